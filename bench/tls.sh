#!/usr/bin/env bash
# TLS side by side, in one invocation (README "TLS and HTTP/2", bench/README.md):
#
# 1. keep-alive throughput: gatehouse terminating TLS and forwarding an authenticated request,
#    against the plain Pingora passthrough terminating TLS with the same certificate
#    (examples/passthrough.rs LISTEN UPSTREAM THREADS CERT KEY); interleaved rounds, the median
#    ratio gatehouse / passthrough (goal >= 0.85);
# 2. new handshakes per second: the same request with `Connection: close` (a full TLS handshake
#    per request), gatehouse beside nginx terminating TLS with the same certificate and
#    proxying to the same upstream, and beside the passthrough.
#
#   bash bench/tls.sh                 # 3 rounds of 8 s, wrk -t2 -c64 (handshakes: -c16)
#
# Needs: wrk, nginx, openssl, PostgreSQL on 127.0.0.1:5432. The certificate is a fresh
# self-signed P-256 one (ECDSA, as most ACME certificates now); TLS 1.3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
REL=${CARGO_TARGET_DIR:-target}/release

DURATION=${DURATION:-8s}
CONNS=${CONNS:-64}
HS_CONNS=${HS_CONNS:-16}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
UP=127.0.0.1:18681; PT=127.0.0.1:18682; GW=127.0.0.1:18683; ADMIN=127.0.0.1:18684; NG=127.0.0.1:18685
SECRET=benchmark-secret-benchmark-secret-0123
DB=gatehouse_tls_bench_$$
TMP=$(mktemp -d)
chmod 755 "$TMP"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$TMP/nginx.pid" ]] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
chmod 644 "$TMP/key.pem" "$TMP/cert.pem"

# NO_BUILD=1: measure the binaries already in $REL.
[[ -n ${NO_BUILD:-} ]] ||
  cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1
"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
"$REL"/examples/passthrough "$PT" "$UP" "$THREADS" "$TMP/cert.pem" "$TMP/key.pem" 2>/dev/null & pids+=($!)

env -i PATH="$PATH" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  GATEHOUSE_LISTEN="$GW" GATEHOUSE_ADMIN_LISTEN="$ADMIN" GATEHOUSE_UPSTREAM="$UP" \
  GATEHOUSE_TLS_CERT="$TMP/cert.pem" GATEHOUSE_TLS_KEY="$TMP/key.pem" \
  GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_CACHE_TTL=60s GATEHOUSE_BCRYPT_COST=4 \
  GATEHOUSE_THREADS="$THREADS" GATEHOUSE_LOG=warn GATEHOUSE_REGISTRATION=open \
  "$REL"/gatehouse serve >/dev/null 2>"$TMP/gatehouse.log" & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsk -X POST "https://$GW/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fsk -D - -o /dev/null -X POST "https://$GW/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^__Host-access_token=/ {print $2}')
[[ -n "$cookie" ]] || { cat "$TMP/gatehouse.log"; echo "login failed" >&2; exit 1; }
[[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "cookie: $cookie" "https://$GW/bench")" == 200 ]] \
  || { echo "gatehouse does not forward the authenticated request" >&2; exit 1; }

cat >"$TMP/nginx.conf" <<EOF
daemon on;
worker_processes $THREADS;
pid $TMP/nginx.pid;
error_log $TMP/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP; proxy_temp_path $TMP; fastcgi_temp_path $TMP;
  uwsgi_temp_path $TMP; scgi_temp_path $TMP;
  upstream echo { server $UP; keepalive 256; }
  server {
    listen $NG ssl;
    ssl_certificate $TMP/cert.pem;
    ssl_certificate_key $TMP/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
nginx -c "$TMP/nginx.conf" -p "$TMP" 2>/dev/null
for _ in $(seq 1 50); do curl -fsk -o /dev/null "https://$NG/bench" && break; sleep 0.1; done

# wrk prints "Requests/sec" (every request on a TLS connection, and with Connection: close a
# connection per request, so a handshake per request).
rps() { wrk -t2 -c"$2" -d"$DURATION" -H "cookie: $cookie" "${@:3}" "https://$1/bench" | awk '/Requests\/sec/ {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "keep-alive: wrk -t2 -c$CONNS -d$DURATION over TLS 1.3, $ROUNDS interleaved rounds"
ka=()
for round in $(seq 1 "$ROUNDS"); do
  pt=$(rps "$PT" "$CONNS"); gw=$(rps "$GW" "$CONNS")
  ka+=("$(ratio "$gw" "$pt")")
  echo "round $round: passthrough $pt, gatehouse $gw req/s; gatehouse/passthrough ${ka[-1]}"
done
echo "median gatehouse / passthrough (keep-alive): $(median "${ka[@]}")"

echo "new handshakes: wrk -t2 -c$HS_CONNS -d$DURATION -H 'Connection: close', $ROUNDS interleaved rounds"
hs_ng=(); hs_pt=()
for round in $(seq 1 "$ROUNDS"); do
  ng=$(rps "$NG" "$HS_CONNS" -H 'Connection: close')
  pt=$(rps "$PT" "$HS_CONNS" -H 'Connection: close')
  gw=$(rps "$GW" "$HS_CONNS" -H 'Connection: close')
  hs_ng+=("$(ratio "$gw" "$ng")"); hs_pt+=("$(ratio "$gw" "$pt")")
  echo "round $round: nginx $ng, passthrough $pt, gatehouse $gw handshakes/s; gatehouse/nginx ${hs_ng[-1]}, gatehouse/passthrough ${hs_pt[-1]}"
done
echo "median gatehouse / nginx (handshakes): $(median "${hs_ng[@]}")   gatehouse / passthrough: $(median "${hs_pt[@]}")"
