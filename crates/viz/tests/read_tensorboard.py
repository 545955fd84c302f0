"""Reads an event file written by trainscope-viz with TensorBoard's own reader and compares
every scalar with the JSON the Rust test wrote beside it.

Usage: python3 read_tensorboard.py <log dir> <expected.json>
The JSON maps each tag to a list of [step, value] pairs. Exits 1 on any difference.
"""

import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    log_dir, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = json.load(f)
    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    acc.Reload()
    tags = sorted(acc.Tags()["scalars"])
    if tags != sorted(expected):
        print(f"tags differ: read {tags}, expected {sorted(expected)}")
        return 1
    failures = 0
    for tag, pairs in expected.items():
        events = acc.Scalars(tag)
        got = [(e.step, e.value) for e in events]
        if len(got) != len(pairs):
            print(f"{tag}: read {len(got)} events, expected {len(pairs)}")
            failures += 1
            continue
        for (step, value), (want_step, want_value) in zip(got, pairs):
            # Values are stored as 32-bit floats; the JSON holds the same f32 values.
            if step != want_step or abs(value - want_value) > 1e-6 * max(1.0, abs(want_value)):
                print(f"{tag}: read ({step}, {value}), expected ({want_step}, {want_value})")
                failures += 1
    count = sum(len(v) for v in expected.values())
    print(f"tensorboard read {count} scalars in {len(tags)} tags; {failures} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
