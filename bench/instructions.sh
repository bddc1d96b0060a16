#!/usr/bin/env bash
# User-space instructions per authenticated proxied request, counted by callgrind: unlike
# requests per second on this shared machine, the count does not depend on what else runs.
# Each binary serves the same request (one cookie, the session warm) to `wrk -t1 -c8 -d10s`
# after a 3 s warm-up; callgrind is zeroed after the warm-up and dumped after the load.
#
#   bash bench/instructions.sh target/release/gatehouse /tmp/old/target/release/gatehouse
#   KEEP=/tmp/dumps bash bench/instructions.sh …           # keep the callgrind dumps
#   VHOST=app57.example.com CONFIG=routes.toml bash bench/instructions.sh target/release/gatehouse
#   bash bench/instructions.sh passthrough target/release/gatehouse  # beside the plain Pingora baseline
#
# (VHOST, not HOST: valgrind's vgdb names its shared memory after $HOST.)
# Needs: valgrind, wrk, curl, psql, PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
REL=${CARGO_TARGET_DIR:-target}/release
UP=127.0.0.1:18681
GW=127.0.0.1:18683
ADMIN=127.0.0.1:18684
VHOST=${VHOST:-$GW}
DB=gatehouse_bench_instr_$$
SECRET=benchmark-secret-benchmark-secret-0123
TMP=$(mktemp -d)
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 1; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)

for bin in "$@"; do
  # The baseline gets a cookie of the same shape as the gateways' (a token minted with the
  # benchmark secret): the same request bytes through both.
  cookie="access_token=$(python3 bench/mint_tokens.py "$SECRET" "$(python3 -c 'import uuid; print(uuid.uuid4())')" \
    <<<"$(python3 -c 'import uuid; print(uuid.uuid4())')")"
  if [[ $bin == passthrough ]]; then
    # The baseline (examples/passthrough.rs), one thread like the gateway below.
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" "$REL"/examples/passthrough "$GW" "$UP" 1 \
      2>"$TMP/gw.log" & gw=$!
    for _ in $(seq 1 600); do curl -fs "http://$GW/bench" >/dev/null 2>&1 && break; sleep 0.1; done
  else
    config=()
    [[ -n ${CONFIG:-} ]] && config=(--config "$CONFIG")
    env -i PATH="$PATH" \
      DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
      GATEHOUSE_LISTEN="$GW" GATEHOUSE_ADMIN_LISTEN="$ADMIN" GATEHOUSE_UPSTREAM="$UP" \
      GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_CACHE_TTL=60s \
      GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS=1 GATEHOUSE_LOG=warn GATEHOUSE_REGISTRATION=open \
      valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" "$bin" "${config[@]}" serve \
      2>"$TMP/gw.log" & gw=$!
    for _ in $(seq 1 600); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -s -X POST "http://$GW/auth/register" -H 'content-type: application/json' \
      -d '{"username":"bench","password":"benchmark password"}' >/dev/null
    cookie=$(curl -fs -D - -o /dev/null -X POST "http://$GW/auth/login" -H 'content-type: application/json' \
      -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
      | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
  fi
  wrk -t1 -c8 -d3s -H "Host: $VHOST" -H "cookie: $cookie" "http://$GW/bench" >/dev/null
  callgrind_control -z "$gw" >/dev/null
  out=$(wrk -t1 -c8 -d10s -H "Host: $VHOST" -H "cookie: $cookie" "http://$GW/bench")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  callgrind_control -d "$gw" >/dev/null
  sleep 1
  ir=$(cat "$TMP"/cg."$gw".* 2>/dev/null | awk '/^summary:/ {s += $2} END {print s + 0}')
  kill "$gw"; wait "$gw" 2>/dev/null || true
  [[ -n ${KEEP:-} ]] && cp "$TMP"/cg."$gw".* "$KEEP"/ 2>/dev/null || true
  rm -f "$TMP"/cg.*
  printf '%-50s %8d requests (non-2xx %s)  %8.1f k instructions / request\n' \
    "$bin" "$requests" "${errs:-0}" "$(awk -v i="$ir" -v r="$requests" 'BEGIN {print i / r / 1000}')"
done
