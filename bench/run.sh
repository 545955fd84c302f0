#!/usr/bin/env bash
# Training throughput of trainscope and, with --with-pytorch, of PyTorch on the same models,
# data and thread count, side by side (samples per second, median of the timed epochs).
#
#   bench/run.sh [--threads N] [--with-pytorch] [--rounds R]
#
# With --rounds R both sides run R times, alternating, and the table gives each side's median
# and the ratio of the medians with the range of the per-round ratios: the machine's speed
# drifts (a shared second vCPU), so only figures measured close together compare.
#
# --with-pytorch creates bench/.venv and installs torch and numpy into it (PyPI's torch is the
# CUDA build, about 3 GB; it runs on the CPU). Fashion-MNIST comes from Debian's
# dataset-fashion-mnist package (apt-get install dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
with_torch=0
rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --with-pytorch) with_torch=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "usage: bench/run.sh [--threads N] [--with-pytorch] [--rounds R]" >&2; exit 2 ;;
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

# The CNN's data: the first 6,000 training images and labels as plain IDX files.
python3 - "$work" <<'PY'
import gzip, sys
src = "/usr/share/datasets/fashion-mnist/train-{}-idx{}-ubyte.gz"
for kind, rank, header, per in (("images", 3, 16, 784), ("labels", 1, 8, 1)):
    b = gzip.open(src.format(kind, rank)).read()
    head = bytearray(b[:header])
    head[4:8] = (6000).to_bytes(4, "big")
    open(f"{sys.argv[1]}/{kind}6k.idx", "wb").write(bytes(head) + b[header:header + 6000 * per])
PY
sed "s|\"images6k.idx|\"$work/images6k.idx|; s|\"labels6k.idx|\"$work/labels6k.idx|" bench/cnn_fashion.toml > "$work/cnn_fashion.toml"

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

if [ "$with_torch" = 1 ] && [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q torch numpy
fi

# One line per measurement: side case samples_per_s
results="$work/results.txt"
: > "$results"
for round in $(seq 1 "$rounds"); do
  for batch in 256 64; do
    "$bin" train bench/mlp_fashion.toml --set training.batch_size=$batch --threads "$threads" \
      --quiet --out "$work/fashion$batch.$round" > /dev/null
    n=$(( 60000 / batch * batch ))
    echo "ours mlp_784_256_256_10/$batch $(rate "$work/fashion$batch.$round/metrics.jsonl" $n)" >> "$results"
  done
  for batch in 256 64; do
    "$bin" train "$work/cnn_fashion.toml" --set training.batch_size=$batch --threads "$threads" \
      --quiet --out "$work/cnn$batch.$round" > /dev/null
    echo "ours cnn_32_64_128/$batch $(rate "$work/cnn$batch.$round/metrics.jsonl" $(( 6000 / batch * batch )))" >> "$results"
  done
  "$bin" train "$work/mlp_tiny.toml" --threads "$threads" --quiet --out "$work/tiny.$round" > /dev/null
  echo "ours mlp_16_32_1/32 $(rate "$work/tiny.$round/metrics.jsonl" $(( 10000 / 32 * 32 )))" >> "$results"
  if [ "$with_torch" = 1 ]; then
    bench/.venv/bin/python bench/pytorch_mlp.py --threads "$threads" | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    print("pytorch", d["case"] + "/" + str(d["batch"]), round(d["samples_per_s"]))' >> "$results"
    (cd bench && .venv/bin/python pytorch_cnn.py --threads "$threads") | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    print("pytorch", d["case"] + "/" + str(d["batch"]), round(d["samples_per_s"]))' >> "$results"
  fi
done

python3 - "$results" "$rounds" "$threads" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, threads = int(sys.argv[2]), sys.argv[3]
cases = ["mlp_784_256_256_10/256", "mlp_784_256_256_10/64", "cnn_32_64_128/256", "cnn_32_64_128/64", "mlp_16_32_1/32"]
get = lambda side, case: [float(r[2]) for r in rows if r[0] == side and r[1] == case]
print(f"{'case':<26} {'trainscope':>12} {'pytorch':>12} {'ratio':>8}  per-round ratios")
for case in cases:
    ours, theirs = get("ours", case), get("pytorch", case)
    line = f"{case:<26} {statistics.median(ours):>12.0f}"
    if theirs:
        per = [a / b for a, b in zip(ours, theirs)]
        ratio = statistics.median(ours) / statistics.median(theirs)
        line += f" {statistics.median(theirs):>12.0f} {ratio:>7.2f}x  {min(per):.2f}-{max(per):.2f}x"
    else:
        line += f" {'-':>12} {'-':>8}"
    print(line)
print(f"(samples/s, {threads} threads, median of {rounds} round{'s' if rounds > 1 else ''})")
PY
