#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, starts a local
# Orthanc as the hospital PACS, generates a sample patient disc image, and
# imports it the way the kiosk does: scan, match against the local patient
# directory, confirm, spool, coerce, C-STORE with storage commitment. Prints
# where the study is. Everything runs on embedded defaults; state lives in
# out/demo-home, the PACS in out/demo-pacs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" >/dev/null

out=$(pwd)/out
bin=./build/kiosk/discbridge
export DISCBRIDGE_HOME=$out/demo-home
rm -rf "$out/demo-home" "$out/demo-pacs"
mkdir -p "$out/demo-pacs"

# A local PACS: Orthanc on loopback, knowing our AE for storage commitment.
http_port=8042; dicom_port=4242
cat > "$out/demo-pacs/orthanc.json" <<JSON
{ "Name": "DEMO_PACS", "StorageDirectory": "$out/demo-pacs/db", "IndexDirectory": "$out/demo-pacs/db",
  "HttpPort": $http_port, "DicomPort": $dicom_port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "DicomAlwaysAllowStore": true, "DicomAlwaysAllowFind": true,
  "DicomModalities": { "discbridge": ["DISCBRIDGE", "127.0.0.1", 11113] } }
JSON
# A PACS left running by an earlier demo is stopped first, and waited for.
if pkill -f "demo-pacs/orthanc.json" 2>/dev/null; then
  for _ in $(seq 100); do pgrep -f "demo-pacs/orthanc.json" >/dev/null || break; sleep 0.1; done
fi
if curl -sf "http://127.0.0.1:$http_port/system" >/dev/null 2>&1; then
  echo "demo: port $http_port is taken by another server; stop it first" >&2
  exit 1
fi
/usr/sbin/Orthanc "$out/demo-pacs/orthanc.json" > "$out/demo-pacs/orthanc.log" 2>&1 &
echo "$!" > "$out/demo-pacs/orthanc.pid"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/system" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$http_port/system" >/dev/null || { echo "demo: Orthanc did not start, see $out/demo-pacs/orthanc.log" >&2; exit 1; }

./build/tests/make_fixtures sample "$out" >/dev/null
echo "== 1. The disc: discbridge scan out/sample.iso"
$bin scan "$out/sample.iso" || true
echo
echo "== 2. The local patient directory: discbridge mpi import deploy/sample-patients.csv"
$bin mpi import deploy/sample-patients.csv
echo
echo "== 3. Candidates for the disc's patient: discbridge match out/sample.iso"
$bin match "$out/sample.iso"
echo
echo "== 4. Front-desk staff confirm MRN 100042; import into the PACS"
$bin import "$out/sample.iso" --patient OUT-4711=100042 --to "dicom://ORTHANC@127.0.0.1:$dicom_port" --wait \
  --confirmed-by demo
echo
study=$($bin scan "$out/sample.iso" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["patients"][0]["studies"][0]["study_instance_uid"])')
id=$(curl -sf -X POST "http://127.0.0.1:$http_port/tools/lookup" -d "$study" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])')
echo "The study is in the PACS under MRN 100042:"
echo "  http://127.0.0.1:$http_port/studies/$id"
echo "  http://127.0.0.1:$http_port/app/explorer.html#study?uuid=$id"
curl -sf "http://127.0.0.1:$http_port/studies/$id" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("  patient:", s["PatientMainDicomTags"]["PatientID"], s["PatientMainDicomTags"]["PatientName"])'
echo "(the local PACS keeps running; stop it with: kill \$(cat out/demo-pacs/orthanc.pid))"

# The touch-screen kiosk, against a watched folder and the same local PACS.
mkdir -p "$out/demo-watch"
kiosk=(env DISCBRIDGE_HOME="$DISCBRIDGE_HOME" ./build/ui/discbridge-kiosk --watch "$out/demo-watch" --no-drives --to "dicom://ORTHANC@127.0.0.1:$dicom_port")
echo
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "== 5. The kiosk: a disc image dropped into out/demo-watch is read as a disc"
  echo "   (staff sign-in: the Staff button, default PIN 2468)"
  "${kiosk[@]}" --windowed >"$out/demo-kiosk.log" 2>&1 &
  sleep 2
  cp "$out/sample.iso" "$out/demo-watch/sample-$(date +%s).iso"
else
  echo "== 5. The kiosk (no display here): every screen rendered offscreen to out/screens"
  bash deploy/screenshots.sh "$out/screens" | tail -1
  echo "   on a screen, run: ${kiosk[*]}"
  echo "   and drop a disc image into out/demo-watch (staff PIN 2468)"
fi
