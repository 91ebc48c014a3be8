#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, generates a
# sample patient disc image and scans it on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" >/dev/null
mkdir -p out
./build/tests/make_fixtures sample out
echo "== discbridge scan out/sample.iso"
./build/kiosk/discbridge scan out/sample.iso || status=$?
echo
echo "== discbridge repair out/sample.iso --out out/sample-repaired"
rm -rf out/sample-repaired
./build/kiosk/discbridge repair out/sample.iso --out out/sample-repaired
exit "${status:-0}"
