#!/usr/bin/env bash
# Rewrites the result table of examples/README.md from what training each bundled
# configuration gives now (times included), then checks every documented command example.
# Needs Fashion-MNIST installed for its row (apt-get install dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAINSCOPE_UPDATE_DOCS=1 cargo test --release -p trainscope-cli --test docs -- \
    examples_readme_result_table_is_what_the_examples_give
cargo test --release -p trainscope-cli --test docs
