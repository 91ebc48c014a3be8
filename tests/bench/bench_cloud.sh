#!/usr/bin/env bash
# Cloud upload benchmark: the CD-sized image (1,400 CT slices, ~700 MB) sent
# with `discbridge import --to https://... --wait` (STOW-RS through nginx with
# TLS to Orthanc's DICOMweb plugin), side by side in the same run with curl
# POSTing the same instances as prepared multipart bodies (one body of all of
# them, and bodies of 50) to the same endpoint. A fresh Orthanc each run.
#   tests/bench/bench_cloud.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
source "$(dirname "$0")/common.sh"
tls=$work/tls; mkdir -p "$tls"
if [ ! -f "$tls/srv.pem" ]; then
  (cd "$tls" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=Bench CA' &&
   openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' &&
   printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf &&
   openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 30 -extfile ext.cnf) >/dev/null 2>&1
fi
pacs=$work/web-pacs; ngx=$work/nginx
start() {
  rm -rf "$pacs"; mkdir -p "$pacs" "$ngx/tmp"
  cat > "$pacs/orthanc.json" <<JSON
{ "Name": "WEB", "StorageDirectory": "$pacs/db", "IndexDirectory": "$pacs/db", "HttpPort": 18060, "DicomPort": 14260,
  "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"], "DicomWeb": {"Enable": true, "Root": "/dicom-web/"} }
JSON
  /usr/sbin/Orthanc "$pacs/orthanc.json" > "$pacs/log" 2>&1 & orthanc_pid=$!
  cat > "$ngx/nginx.conf" <<CONF
daemon off; master_process off; pid $ngx/nginx.pid; error_log $ngx/error.log;
events { worker_connections 64; }
http { access_log off; client_max_body_size 0; proxy_request_buffering off; proxy_read_timeout 600s;
  client_body_temp_path $ngx/tmp/b; proxy_temp_path $ngx/tmp/p; fastcgi_temp_path $ngx/tmp/f; uwsgi_temp_path $ngx/tmp/u; scgi_temp_path $ngx/tmp/s;
  server { listen 18443 ssl; ssl_certificate $tls/srv.pem; ssl_certificate_key $tls/srv.key;
    location / { proxy_pass http://127.0.0.1:18060/; } } }
CONF
  /usr/sbin/nginx -c "$ngx/nginx.conf" -p "$ngx" & nginx_pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18060/system >/dev/null && break; sleep 0.1; done
  sleep 0.3
}
stop() { kill "$nginx_pid" "$orthanc_pid"; wait "$nginx_pid" "$orthanc_pid" 2>/dev/null || true; }
count() { curl -sf http://127.0.0.1:18060/statistics | python3 -c 'import json,sys; print(json.load(sys.stdin)["CountInstances"])'; }
now() { date +%s.%N; }
url=https://127.0.0.1:18443/dicom-web/studies

# Prepared bodies: all instances in one, and in bodies of 50.
mkdir -p "$work/bodies"
if [ ! -f "$work/bodies/all.body" ]; then
  python3 - "$work/cd/tree" "$work/bodies" <<'PY'
import os, sys
tree, out = sys.argv[1], sys.argv[2]
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(tree) for f in fs)
def write(name, group):
    with open(os.path.join(out, name), "wb") as w:
        for p in group:
            w.write(b"--BENCHBOUNDARY\r\nContent-Type: application/dicom\r\n\r\n")
            w.write(open(p, "rb").read()); w.write(b"\r\n")
        w.write(b"--BENCHBOUNDARY--\r\n")
write("all.body", paths)
for i in range(0, len(paths), 50):
    write(f"part{i // 50:04d}.body", paths[i:i + 50])
PY
fi
ctype='Content-Type: multipart/related; type="application/dicom"; boundary=BENCHBOUNDARY'

start; t0=$(now)
curl -s -o /dev/null --cacert "$tls/ca.pem" -H "$ctype" -H 'Expect:' --data-binary @"$work/bodies/all.body" "$url"
t1=$(now); c_all=$(python3 -c "print($t1-$t0)"); n_all=$(count); stop

start; t0=$(now)
for b in "$work"/bodies/part*.body; do
  curl -s -o /dev/null --cacert "$tls/ca.pem" -H "$ctype" -H 'Expect:' --data-binary @"$b" "$url"
done
t1=$(now); c_50=$(python3 -c "print($t1-$t0)"); n_50=$(count); stop

start; rm -rf "$work/cloud-home"
printf 'mrn,issuer,family,given,birth_date,sex\n100001,GENHOSP,Doe,Jane,19700101,F\n' > "$work/local.csv"
"$bin" --data-dir "$work/cloud-home" mpi import "$work/local.csv" >/dev/null
/usr/bin/time -f '%e %M' -o "$work/cloud.time" "$bin" --data-dir "$work/cloud-home" import "$work/cd.iso" \
  --patient EXT123=100001 --to https://127.0.0.1:18443/dicom-web --ca-file "$tls/ca.pem" --listen-port 11115 --wait \
  > /dev/null
read d_s d_kb < "$work/cloud.time"; n_d=$(count); stop

python3 - "$files" "$bytes" "$c_all" "$n_all" "$c_50" "$n_50" "$d_s" "$n_d" "$d_kb" <<'PY'
import sys
files, size = int(sys.argv[1]), int(sys.argv[2])
rows = [("curl, one multipart body of all instances", float(sys.argv[3]), sys.argv[4]),
        ("curl, multipart bodies of 50 instances", float(sys.argv[5]), sys.argv[6]),
        ("discbridge import --wait (read, spool, coerce, STOW-RS)", float(sys.argv[7]), sys.argv[8])]
for name, t, n in rows:
    print(f"{name:56s} {t:7.2f} s  {files / t:7.1f} inst/s  {size / t / 1048576:6.1f} MB/s  ({n} stored)")
best = min(rows[0][1], rows[1][1])
print(f"discbridge reaches {100 * best / rows[2][1]:.0f}% of the best curl figure (target >= 90%)")
print(f"discbridge peak RSS {int(sys.argv[9]) // 1024} MB (target < 100 MB)")
PY
