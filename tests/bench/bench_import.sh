#!/usr/bin/env bash
# Import benchmark: the CD-sized image (1,400 CT slices of 512x512, ~700 MB)
# imported with `discbridge import --wait` (read, spool, coerce, C-STORE,
# storage commitment) into a local Orthanc, side by side in the same run with
# DCMTK's `storescu +sd` sending the same files, extracted, to the same kind of
# Orthanc; once with default TCP settings and once with TCP_NODELAY=1 in the
# environment of both ends. Each run gets a fresh, empty Orthanc.
#   tests/bench/bench_import.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
source "$(dirname "$0")/common.sh"

pacs_dir=$work/pacs
run_no=0
start_orthanc() {  # $1: extra environment (e.g. TCP_NODELAY=1); new ports each run
  run_no=$((run_no + 1))
  http_port=$((18040 + run_no * 10)); dicom_port=$((14240 + run_no * 10))
  rm -rf "$pacs_dir"; mkdir -p "$pacs_dir"
  cat > "$pacs_dir/orthanc.json" <<JSON
{ "Name": "BENCH", "StorageDirectory": "$pacs_dir/db", "IndexDirectory": "$pacs_dir/db",
  "HttpPort": $http_port, "DicomPort": $dicom_port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
  "DicomModalities": { "discbridge": ["DISCBRIDGE", "127.0.0.1", 11114] } }
JSON
  env $1 /usr/sbin/Orthanc "$pacs_dir/orthanc.json" > "$pacs_dir/log" 2>&1 &
  orthanc_pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$http_port/system >/dev/null && return; sleep 0.1; done
  echo "Orthanc did not start" >&2; exit 1
}
stop_orthanc() { kill "$orthanc_pid"; wait "$orthanc_pid" 2>/dev/null || true; }
count() { curl -sf http://127.0.0.1:$http_port/statistics | python3 -c 'import json,sys; print(json.load(sys.stdin)["CountInstances"])'; }
now() { date +%s.%N; }

home=$work/import-home
run_storescu() {  # $1: environment
  start_orthanc "$1"
  local t0; t0=$(now)
  env $1 storescu +sd +r -aet STORESCU -aec ORTHANC 127.0.0.1 $dicom_port "$work/cd/tree" >/dev/null 2>&1
  local t1; t1=$(now)
  echo "$(python3 -c "print($t1-$t0)") $(count)"
  stop_orthanc
}
run_import() {  # $1: Orthanc's environment (ours sets its own socket options)
  start_orthanc "$1"
  rm -rf "$home"
  printf 'mrn,issuer,family,given,birth_date,sex\n100001,GENHOSP,Doe,Jane,19700101,F\n' > "$work/local.csv"
  "$bin" --data-dir "$home" mpi import "$work/local.csv" >/dev/null
  local t0; t0=$(now)
  "$bin" --data-dir "$home" import "$work/cd.iso" --patient EXT123=100001 --to dicom://ORTHANC@127.0.0.1:$dicom_port \
    --listen-port 11114 --wait --json > "$work/import.json"
  local t1; t1=$(now)
  echo "$(python3 -c "print($t1-$t0)") $(count)"
  stop_orthanc
}

cat "$work/cd.iso" > /dev/null
echo "== $files instances, $((bytes / 1048576)) MB; a fresh Orthanc for every run"
run_no=0; read s_def n1 < <(run_storescu ""); echo "storescu, defaults: $s_def s" >&2
run_no=1; read i_def n2 < <(run_import ""); echo "discbridge, default Orthanc: $i_def s" >&2
# With Nagle off at both ends the two are within this machine's noise of each
# other, so they alternate for $rounds rounds and the medians are compared.
rounds=${ROUNDS:-3}
s_list=""; i_list=""; n3=""; n4=""
for r in $(seq "$rounds"); do
  run_no=$((run_no + 1)); read t n3 < <(run_storescu "TCP_NODELAY=1"); echo "storescu, TCP_NODELAY=1, round $r: $t s" >&2; s_list="$s_list $t"
  run_no=$((run_no + 1)); read t n4 < <(run_import "TCP_NODELAY=1"); echo "discbridge, Orthanc TCP_NODELAY=1, round $r: $t s" >&2; i_list="$i_list $t"
done
python3 - "$files" "$bytes" "$s_def" "$n1" "$i_def" "$n2" "$s_list" "$n3" "$i_list" "$n4" <<'PY'
import statistics, sys
files, size = int(sys.argv[1]), int(sys.argv[2])
s_nd = [float(x) for x in sys.argv[7].split()]
i_nd = [float(x) for x in sys.argv[9].split()]
rows = [("storescu +sd, defaults -> default Orthanc", float(sys.argv[3]), sys.argv[4]),
        ("discbridge import --wait -> default Orthanc", float(sys.argv[5]), sys.argv[6]),
        (f"storescu +sd, TCP_NODELAY=1 both ends (median of {len(s_nd)})", statistics.median(s_nd), sys.argv[8]),
        (f"discbridge import --wait, Orthanc TCP_NODELAY=1 (median of {len(i_nd)})", statistics.median(i_nd), sys.argv[10])]
for name, t, n in rows:
    print(f"{name:66s} {t:7.2f} s  {files / t:7.1f} inst/s  {size / t / 1048576:7.1f} MB/s  ({n} stored)")
print("Nagle off, each round (storescu / import): " +
      ", ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(s_nd, i_nd)))
print(f"import vs default storescu: {rows[0][1] / rows[1][1]:.1f}x faster (target >= 5x)")
print(f"import vs storescu with Nagle off at both ends: {rows[2][1] / rows[3][1]:.2f}x (target >= 1.0, no slower)")
PY
