#!/usr/bin/env bash
# CPU time per request, user and system, of the Pingora passthrough (sent the gateway's cookie,
# and sent none) and of gatehouse forwarding an authenticated request, read from
# /proc/PID/stat around each wrk run: where the time goes when requests per second differ.
#
#   NO_BUILD=1 bash bench/cpu.sh          # 2 rounds of 10 s, wrk -t2 -c64
#   ROUNDS=3 DURATION=20s bash bench/cpu.sh
#
# Needs: wrk, curl, psql, PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
REL=${CARGO_TARGET_DIR:-target}/release
UP=127.0.0.1:18781
PT=127.0.0.1:18782
GW=127.0.0.1:18783
ADMIN=127.0.0.1:18784
DB=gatehouse_bench_cpu_$$
DURATION=${DURATION:-10s}
[[ -n ${NO_BUILD:-} ]] ||
  cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
"$REL"/examples/passthrough "$PT" "$UP" 2 2>/dev/null & pt=$!; pids+=($pt)
env -i PATH="$PATH" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  GATEHOUSE_LISTEN="$GW" GATEHOUSE_ADMIN_LISTEN="$ADMIN" GATEHOUSE_UPSTREAM="$UP" \
  GATEHOUSE_JWT_SECRET=benchmark-secret-benchmark-secret-0123 GATEHOUSE_COOKIE_SECURE=false \
  GATEHOUSE_CACHE_TTL=60s GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS=2 GATEHOUSE_LOG=warn \
  GATEHOUSE_REGISTRATION=open "$REL"/gatehouse serve 2>/dev/null & gw=$!; pids+=($gw)
for _ in $(seq 1 300); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s -X POST "http://$GW/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fs -D - -o /dev/null -X POST "http://$GW/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
[[ -n "$cookie" ]] || { echo "login failed" >&2; exit 1; }

# utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # name pid addr cookie
  wrk -t2 -c64 -d3s -H "cookie: $4" "http://$3/bench" >/dev/null
  local u0 s0 u1 s1 out
  read -r u0 s0 < <(ticks "$2")
  out=$(wrk -t2 -c64 -d"$DURATION" -H "cookie: $4" "http://$3/bench")
  read -r u1 s1 < <(ticks "$2")
  awk -v n="$(awk '/requests in/ {print $1}' <<<"$out")" -v rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v name="$1" 'BEGIN {
      printf "  %-24s %9.0f req/s   user %6.2f us   system %6.2f us   per request\n",
        name, rps, u * 1e6 / hz / n, s * 1e6 / hz / n }'
}
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "round $round"
  run "passthrough (cookie)" "$pt" "$PT" "$cookie"
  run "passthrough (no cookie)" "$pt" "$PT" none
  run gatehouse "$gw" "$GW" "$cookie"
done
