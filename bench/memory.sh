#!/usr/bin/env bash
# Peak memory of training: one f32 epoch of the 784-256-256-10 MLP of mlp_fashion.toml on the
# 60,000 Fashion-MNIST training images, measured as the peak resident set size
# (/usr/bin/time -v, "Maximum resident set size") beside what the run must hold: the data in
# f32 (60,000 × 784 pixels and the labels as u32), the model and the optimizer state (Adam:
# two f32 buffers of the parameters' size).
#
#   bench/memory.sh [--bin PATH] [--config FILE] [--threads N]
#
# --bin measures another build (e.g. an older checkout's target/release/trainscope); by
# default the binary of this checkout is built and measured. --config trains another
# Fashion-MNIST configuration (its dtype and standardization are its own; the target line
# assumes f32). The target is a peak of at most 1.3 × (data + model + optimizer state).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=""
config=bench/mlp_fashion.toml
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "usage: bench/memory.sh [--bin PATH] [--config FILE] [--threads N]" >&2; exit 2 ;;
  esac
done
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "Fashion-MNIST not found: apt-get install dataset-fashion-mnist" >&2
  exit 2
fi
if [ ! -x /usr/bin/time ]; then
  echo "/usr/bin/time not found: apt-get install time" >&2
  exit 2
fi
if [ -z "$bin" ]; then
  cargo build --release -q -p trainscope-cli
  bin=target/release/trainscope
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/time -v -o "$work/time.txt" "$bin" train "$config" --set training.epochs=1 \
  --threads "$threads" --quiet --out "$work/run" > /dev/null

python3 - "$work/time.txt" "$work/run/summary.json" "$config" "$bin" <<'PY'
import json, re, sys
time_txt, summary, config, binary = sys.argv[1:]
peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(time_txt).read()).group(1)) * 1024
s = json.load(open(summary))
params = s["parameters"]
n, d = 60_000, 28 * 28
data = n * d * 4 + n * 4
model = params * 4
optim = 2 * params * 4
need = data + model + optim
mb = lambda b: f"{b / 1e6:8.1f} MB"
print(f"binary             {binary}")
print(f"config             {config} (1 epoch)")
print(f"data (f32 + u32)   {mb(data)}")
print(f"model ({params} f32)  {mb(model)}")
print(f"optimizer state    {mb(optim)}")
print(f"sum                {mb(need)}")
print(f"peak RSS           {mb(peak)}   {peak / need:.2f} x the sum (target <= 1.30 x)")
PY
