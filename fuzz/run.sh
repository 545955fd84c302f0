#!/usr/bin/env bash
# Runs the fuzz targets one after the other (the machine has two cores; one fuzzer at a time),
# each until FUZZ_RUNS executions or FUZZ_SECONDS seconds, whichever comes first, growing
# corpus/TARGET from it and from seeds/TARGET. Logs go to logs/TARGET.log, crashes to
# artifacts/TARGET/. Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
#
#   fuzz/run.sh                     # every target, 10^7 runs or an hour each
#   FUZZ_SECONDS=300 fuzz/run.sh csv idx
#   FUZZ_SANITIZER=none fuzz/run.sh   # several times faster; the targets' own allocator still
#                                     # aborts on a single allocation above 512 MB
set -uo pipefail
cd "$(dirname "$0")"
runs=${FUZZ_RUNS:-10000000}
seconds=${FUZZ_SECONDS:-3600}
sanitizer=${FUZZ_SANITIZER:-address}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(csv idx config checkpoint resume run_dir prepared)
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    # Allocations above 512 MB and a resident size above 2 GB count as crashes, as does an
    # input that takes more than 10 s.
    cargo +nightly fuzz run -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- \
        -runs="$runs" -max_total_time="$seconds" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
        -print_final_stats=1 >"logs/$t.log" 2>&1
    echo "$t: exit $? ($(grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units)' "logs/$t.log" | tail -1))"
done
