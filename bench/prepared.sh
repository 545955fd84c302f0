#!/usr/bin/env bash
# Training from a prepared dataset (`trainscope prepare`, shards read as they are needed)
# against training in memory, on the same data and model: the 784-256-256-10 MLP of
# mlp_fashion.toml on the 60,000 Fashion-MNIST training images, f32, batch 256. Reports the
# time `prepare` takes, training throughput (rows per second over the epochs, from
# metrics.jsonl's clock) and the peak resident set size of each run (/usr/bin/time -v).
#
#   bench/prepared.sh [--bin PATH] [--epochs N] [--threads N] [--shard-rows N] [--window W]
#
# The prepared dataset keeps the pixel bytes in 60,000 / shard-rows shards (default 6,000
# rows, 4.7 MB, so that the windowed shuffle has 10 shards to work with); --window is
# data.shuffle_window (default 2 shards).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=""
epochs=2
threads=2
shard_rows=6000
window=2
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --shard-rows) shard_rows="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    *) echo "usage: bench/prepared.sh [--bin PATH] [--epochs N] [--threads N] [--shard-rows N] [--window W]" >&2; exit 2 ;;
  esac
done
fm=/usr/share/datasets/fashion-mnist
if [ ! -f "$fm/train-images-idx3-ubyte.gz" ]; then
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

start=$(date +%s.%N)
"$bin" prepare "$fm/train-images-idx3-ubyte.gz" --labels "$fm/train-labels-idx1-ubyte.gz" \
  --out "$work/fashion.tsd" --shard-rows "$shard_rows" > /dev/null
prepare_s=$(echo "$(date +%s.%N) - $start" | bc)

# The same configuration, its [data] table pointing at the prepared dataset.
python3 - bench/mlp_fashion.toml "$work/fashion.tsd" "$window" > "$work/tsd.toml" <<'PY'
import re, sys
text, tsd, window = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
data = f'[data]\ntrain = "{tsd}"\nshuffle_window = {window}\nstandardize = false\n\n'
print(re.sub(r"\[data\]\n(?:[^\[]*\n)", data, text, count=1))
PY

for kind in memory tsd; do
  config=bench/mlp_fashion.toml
  [ "$kind" = tsd ] && config="$work/tsd.toml"
  /usr/bin/time -v -o "$work/$kind.time" "$bin" train "$config" --set "training.epochs=$epochs" \
    --threads "$threads" --quiet --out "$work/$kind" > /dev/null
done

python3 - "$work" "$epochs" "$prepare_s" "$shard_rows" "$window" <<'PY'
import json, re, sys
work, epochs, prepare_s, shard_rows, window = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"prepare            {prepare_s:6.1f} s (60,000 images in shards of {shard_rows} rows)")
for kind in ["memory", "tsd"]:
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                         open(f"{work}/{kind}.time").read()).group(1)) * 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)",
                     open(f"{work}/{kind}.time").read()).group(1)
    lines = [json.loads(l) for l in open(f"{work}/{kind}/metrics.jsonl")]
    seconds = lines[-1]["elapsed_s"]
    rows = 60_000 // 256 * 256 * epochs  # drop_last
    label = "in memory" if kind == "memory" else f"prepared (window {window})"
    print(f"{label:24s} {rows / seconds:9.0f} rows/s over {epochs} epochs, "
          f"final loss {lines[-1]['train_loss']:.4f}, peak RSS {peak / 1e6:6.1f} MB, wall {wall}")
PY
