#!/usr/bin/env bash
# Training throughput of trainscope and, with --with-pytorch, of PyTorch on the same models,
# data and thread count, side by side (samples per second, median of the timed epochs).
#
#   bench/run.sh [--threads N] [--with-pytorch]
#
# --with-pytorch creates bench/.venv and installs torch and numpy into it (PyPI's torch is the
# CUDA build, about 3 GB; it runs on the CPU). Fashion-MNIST comes from Debian's
# dataset-fashion-mnist package (apt-get install dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
with_torch=0
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --with-pytorch) with_torch=1; shift ;;
    *) echo "usage: bench/run.sh [--threads N] [--with-pytorch]" >&2; exit 2 ;;
  esac
done
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "Fashion-MNIST not found: apt-get install dataset-fashion-mnist" >&2
  exit 2
fi

cargo build --release -q -p trainscope-cli
bin=target/release/trainscope
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/tiny.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write(",".join(f"x{i}" for i in range(16)) + ",y\n")
    for _ in range(10000):
        f.write(",".join(f"{random.random():.6f}" for _ in range(17)) + "\n")
PY
sed "s|tiny.csv|$work/tiny.csv|" bench/mlp_tiny.toml > "$work/mlp_tiny.toml"

# samples/s of epochs 2.. (epoch 1 is the warm-up), median
rate() {
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
times = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(rows, rows[1:])]
print(f"{n / statistics.median(times):.0f}")
PY
}

declare -A ours
for batch in 256 64; do
  "$bin" train bench/mlp_fashion.toml --set training.batch_size=$batch --threads "$threads" \
    --quiet --out "$work/fashion$batch" > /dev/null
  n=$(( 60000 / batch * batch ))
  ours["mlp_784_256_256_10/$batch"]=$(rate "$work/fashion$batch/metrics.jsonl" $n)
done
"$bin" train "$work/mlp_tiny.toml" --threads "$threads" --quiet --out "$work/tiny" > /dev/null
ours["mlp_16_32_1/32"]=$(rate "$work/tiny/metrics.jsonl" $(( 10000 / 32 * 32 )))

declare -A theirs
if [ "$with_torch" = 1 ]; then
  if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q torch numpy
  fi
  while read -r line; do
    key=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["case"] + "/" + str(d["batch"]))' "$line")
    theirs[$key]=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["samples_per_s"]))' "$line")
  done < <(bench/.venv/bin/python bench/pytorch_mlp.py --threads "$threads")
fi

printf "%-26s %14s %14s %8s\n" case trainscope pytorch ratio
for key in "mlp_784_256_256_10/256" "mlp_784_256_256_10/64" "mlp_16_32_1/32"; do
  t=${theirs[$key]:-}
  if [ -n "$t" ]; then
    ratio=$(python3 -c "print(f'{${ours[$key]}/$t:.2f}x')")
  else
    t="-"; ratio="-"
  fi
  printf "%-26s %14s %14s %8s\n" "$key" "${ours[$key]}" "$t" "$ratio"
done
echo "(samples/s, $threads threads)"
