#!/usr/bin/env bash
# Ingest benchmark: a CD-sized image (1,400 CT slices of 512x512, ~730 MB)
# scanned from the page cache, side by side with a plain sequential read and
# DCMTK's dcmmkdir over the same files; then repair of a 10,000-instance
# series beside dcmmkdir. Prints the figures and their ratios.
#   tests/bench/bench_ingest.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
work=$(realpath -m "${2:-build/bench}")
bin=$build/kiosk/discbridge
gen=$build/tests/make_fixtures
mkdir -p "$work"

secs() { python3 -c 'import sys; print(f"{float(sys.argv[1]):.2f}")' "$1"; }
timeit() {  # prints elapsed seconds and peak RSS (kB) of a command
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || true
  cat "$work/time.txt"
}

echo "== CD-sized image: 1400 CT slices of 512x512"
if [ ! -f "$work/cd.iso" ]; then
  "$gen" bench "$work/cd" 1400 512
  genisoimage -quiet -iso-level 1 -V BENCH_CD -o "$work/cd.iso" "$work/cd/tree"
fi
ls -l "$work/cd.iso" | awk '{printf "image: %.0f MB\n", $5/1048576}'
cat "$work/cd.iso" >/dev/null; cat "$work/cd.iso" >/dev/null  # page cache

read cat_s _ < <(timeit cat "$work/cd.iso")
read scan_s scan_kb < <(timeit "$bin" scan "$work/cd.iso" --json)
"$bin" scan "$work/cd.iso" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("scan found", d["summary"]["instances"], "instances")'
rm -f "$work/DICOMDIR.mkdir"
read mkdir_s _ < <(timeit dcmmkdir --recurse --input-directory "$work/cd/tree" --output-file "$work/DICOMDIR.mkdir" +I)
echo "plain read (cat):          $(secs "$cat_s") s"
echo "discbridge scan:           $(secs "$scan_s") s   peak RSS $((scan_kb / 1024)) MB"
echo "dcmmkdir +r (same files):  $(secs "$mkdir_s") s"
python3 - "$cat_s" "$scan_s" "$mkdir_s" "$scan_kb" <<'PY'
import sys
cat, scan, mk, kb = map(float, sys.argv[1:])
print(f"scan / plain read = {scan / max(cat, 0.01):.2f}x (target <= 3x)")
print(f"scan / dcmmkdir   = {scan / max(mk, 0.01):.2f}x (target < 1x)")
print(f"peak RSS          = {kb / 1024:.0f} MB (target < 100 MB)")
PY

echo
echo "== repair of one 10,000-instance series"
if [ ! -d "$work/series10k/tree" ]; then "$gen" bench "$work/series10k" 10000 16; fi
rm -rf "$work/repaired10k" "$work/DICOMDIR.10k"
read rep_s rep_kb < <(timeit "$bin" repair "$work/series10k/tree" --out "$work/repaired10k")
read mk10_s _ < <(timeit dcmmkdir --recurse --input-directory "$work/series10k/tree" --output-file "$work/DICOMDIR.10k" +I)
echo "discbridge repair (scan + copy + DICOMDIR): $(secs "$rep_s") s   peak RSS $((rep_kb / 1024)) MB"
echo "dcmmkdir +r (DICOMDIR only):               $(secs "$mk10_s") s"
python3 -c 'import sys; r,m=map(float,sys.argv[1:]); print(f"repair / dcmmkdir = {r/max(m,0.01):.3f}x")' "$rep_s" "$mk10_s"
rm -rf "$work/repaired10k"
