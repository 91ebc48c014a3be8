#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the README's test
# command, and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh

cmake --preset default
cmake --build --preset default -j "$(nproc)"
ctest --test-dir build -j "$(nproc)" --output-on-failure

# The sanitizer build (clang, ASan + UBSan) runs the ingest tests and the
# fuzz targets for a bounded time.
cmake --preset sanitize
cmake --build --preset sanitize -j "$(nproc)"
ctest --test-dir build-sanitize -j "$(nproc)" --output-on-failure
