#!/usr/bin/env bash
# The test command of the README: every test of the workspace, including the end-to-end ones
# (they build the static runtime and real bundles, and generate demo hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
export INSTA_UPDATE=no
cargo test --workspace --locked
