# Shared by the benchmark scripts: paths, and the CD-sized image (1,400 CT
# slices of 512x512) generated once into WORK_DIR.
build=$(realpath "${1:-build}")
work=$(realpath -m "${2:-build/bench}")
bin=$build/kiosk/discbridge
mkdir -p "$work"
if [ ! -f "$work/cd.iso" ]; then
  "$build/tests/make_fixtures" bench "$work/cd" 1400 512
  genisoimage -quiet -iso-level 1 -V BENCH_CD -o "$work/cd.iso" "$work/cd/tree"
fi
files=$(find "$work/cd/tree" -type f | wc -l)
bytes=$(du -sb "$work/cd/tree" | cut -f1)
