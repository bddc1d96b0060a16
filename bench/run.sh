#!/usr/bin/env bash
# Loopback benchmark, all in one invocation with the same load tool and connection count:
#   1. the echo upstream directly
#   2. a plain Pingora passthrough to it (examples/passthrough.rs, the baseline)
#   3. gatehouse forwarding an authenticated request (valid access cookie, warm cache)
# Prints requests/s and latency percentiles for each run, and the median gatehouse / passthrough.
#
#   bash bench/run.sh            # 10 s per run, 3 interleaved rounds, 2 wrk threads, 64 connections
#   DURATION=30s CONNS=128 bash bench/run.sh
#
# Needs: wrk (apt-get install wrk), PostgreSQL on 127.0.0.1:5432, a release build (done here).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
GW_THREADS=${GW_THREADS:-2}
UP=127.0.0.1:18481
PT=127.0.0.1:18482
GW=127.0.0.1:18483
ADMIN=127.0.0.1:18484
DB=gatehouse_bench_$$

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

start=$(date +%s)
cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1
echo "release build: $(( $(date +%s) - start )) s (incremental; see bench/README.md for a clean build)"
echo "binary size: $(stat -c %s target/release/gatehouse) bytes"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
}
trap cleanup EXIT

target/release/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
target/release/examples/passthrough "$PT" "$UP" "$GW_THREADS" 2>/dev/null & pids+=($!)
env -i PATH="$PATH" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  GATEHOUSE_LISTEN="$GW" GATEHOUSE_ADMIN_LISTEN="$ADMIN" GATEHOUSE_UPSTREAM="$UP" \
  GATEHOUSE_JWT_SECRET=benchmark-secret-benchmark-secret-0123 GATEHOUSE_COOKIE_SECURE=false \
  GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS="$GW_THREADS" GATEHOUSE_LOG=warn \
  target/release/gatehouse serve 2>/tmp/gatehouse-bench.log & pids+=($!)

for _ in $(seq 1 100); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$ADMIN/readyz" >/dev/null || { cat /tmp/gatehouse-bench.log; exit 1; }

curl -fs -X POST "http://$GW/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fs -D - -o /dev/null -X POST "http://$GW/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
[[ -n "$cookie" ]] || { echo "login failed" >&2; exit 1; }
curl -fs -H "cookie: $cookie" "http://$GW/bench" >/dev/null

run() { # name url [cookie]
  local name=$1 url=$2 out
  if [[ -n "${3:-}" ]]; then
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "cookie: $3" "$url")
  else
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$url")
  fi
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-28s %12s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errs:-0}"
  eval "RPS_${name//[^a-zA-Z]/_}=$rps"
}

echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION on $(nproc) cores ($(uname -m)), gatehouse threads $GW_THREADS, $ROUNDS rounds"
run upstream "http://$UP/bench"
queries_before=$(curl -fs "http://$ADMIN/metrics" | awk '/^gatehouse_db_queries_total/ {s+=$2} END {print s+0}')
ratios=()
# Interleaved rounds: the machine is shared and noisy, so each ratio compares runs taken
# moments apart, and the median of the rounds is reported.
for round in $(seq 1 "$ROUNDS"); do
  # The same request (cookie included) so both proxies move the same bytes.
  run passthrough "http://$PT/bench" "$cookie"
  run gatehouse_proxy "http://$GW/bench" "$cookie"
  ratios+=("$(awk -v g="$RPS_gatehouse_proxy" -v p="$RPS_passthrough" 'BEGIN {printf "%.3f", g / p}')")
  echo "round $round: gatehouse / passthrough = ${ratios[-1]}"
done
queries_after=$(curl -fs "http://$ADMIN/metrics" | awk '/^gatehouse_db_queries_total/ {s+=$2} END {print s+0}')
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "median gatehouse / passthrough: $median"
echo "database queries during the gatehouse runs: $((queries_after - queries_before))"
