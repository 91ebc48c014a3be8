#!/usr/bin/env bash
# Renders every screen of discbridge-kiosk to PNG (offscreen, no display
# needed) from a generated session: a sample disc dropped into a watched
# folder, read, matched against the sample directory.
#   bash deploy/screenshots.sh [OUT_DIR]     (default docs/screens)
# Needs a built tree (bash deploy/demo.sh or cmake --build --preset default).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screens}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/watch"
./build/tests/make_fixtures sample "$work" >/dev/null
export DISCBRIDGE_HOME=$work/home
./build/kiosk/discbridge mpi import deploy/sample-patients.csv >/dev/null
cp "$work/sample.iso" "$work/watch/"
QT_QPA_PLATFORM=offscreen ./build/ui/discbridge-kiosk --watch "$work/watch" --no-drives \
  --to dicom://ORTHANC@127.0.0.1:4242 --screenshots "$out" 2>/dev/null
echo "screens in $out"
