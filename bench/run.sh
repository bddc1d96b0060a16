#!/usr/bin/env bash
# Loopback benchmark, all in one invocation with the same load tool (wrk) and connection count:
#   upstream direct; plain Pingora passthrough (examples/passthrough.rs, the baseline);
#   gatehouse authenticated proxy; gatehouse /auth/verify; nginx auth_request -> gatehouse
#   /auth/verify -> upstream (the deploy/ snippet); a sign-in storm at bcrypt cost 12 beside
#   authenticated proxy load; resident memory with 100,000 cached sessions.
# Also: upstream connection reuse, gateway CPU-seconds per request, database transactions
# per request.
#
#   bash bench/run.sh                      # 3 rounds of 10 s, wrk -t2 -c64
#   ROUNDS=5 DURATION=20s bash bench/run.sh
#
# Needs: wrk, nginx (optional: skipped if missing), python3, psql, PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release binaries (CARGO_TARGET_DIR, as cargo reads it).
REL=${CARGO_TARGET_DIR:-target}/release

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
GW_THREADS=${GW_THREADS:-2}
SESSIONS=${SESSIONS:-100000}
UP=127.0.0.1:18481
PT=127.0.0.1:18482
GW=127.0.0.1:18483
ADMIN=127.0.0.1:18484
NGX_PORT=18485
DB=gatehouse_bench_$$
SECRET=benchmark-secret-benchmark-secret-0123
TMP=$(mktemp -d)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

start=$(date +%s)
# NO_BUILD=1: measure the binaries already in $REL (say, while the tree has moved on).
[[ -n ${NO_BUILD:-} ]] ||
  cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1
echo "release build: $(( $(date +%s) - start )) s (incremental; see bench/README.md for a clean build)"
echo "binary size: $(stat -c %s "$REL"/gatehouse) bytes"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
"$REL"/examples/passthrough "$PT" "$UP" "$GW_THREADS" 2>/dev/null & pids+=($!)
env -i PATH="$PATH" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
  GATEHOUSE_LISTEN="$GW" GATEHOUSE_ADMIN_LISTEN="$ADMIN" GATEHOUSE_UPSTREAM="$UP" \
  GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_CACHE_TTL=60s \
  GATEHOUSE_BCRYPT_COST=12 GATEHOUSE_THREADS="$GW_THREADS" GATEHOUSE_LOG=warn \
  GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$NGX_PORT" GATEHOUSE_REGISTRATION=open \
  "$REL"/gatehouse serve 2>"$TMP/gatehouse.log" & GW_PID=$!; pids+=($GW_PID)

for _ in $(seq 1 100); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$ADMIN/readyz" >/dev/null || { cat "$TMP/gatehouse.log"; exit 1; }

nginx_base=""
if [[ -x /usr/sbin/nginx ]]; then
  mkdir -p "$TMP/nginx"
  server=$(sed -e "s/127.0.0.1:8000/$GW/; s/127.0.0.1:8080/$UP/; s/listen 80;/listen 127.0.0.1:$NGX_PORT;/" deploy/nginx/gatehouse.conf)
  cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes $GW_THREADS;
error_log $TMP/nginx/error.log warn;
pid $TMP/nginx/nginx.pid;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body; proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fcgi; uwsgi_temp_path $TMP/nginx/uwsgi; scgi_temp_path $TMP/nginx/scgi;
  $server
}
CONF
  /usr/sbin/nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/stderr" & pids+=($!)
  sleep 0.5
  nginx_base="http://127.0.0.1:$NGX_PORT"
fi

curl -fs -X POST "http://$GW/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fs -D - -o /dev/null -X POST "http://$GW/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
[[ -n "$cookie" ]] || { echo "login failed" >&2; exit 1; }
curl -fs -H "cookie: $cookie" "http://$GW/bench" >/dev/null

metric() { curl -fs "http://$ADMIN/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
xacts() { psql -At -h 127.0.0.1 -U postgres -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'" postgres; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status"; }

declare -A RPS P50 P99 REQS
run() { # name url [cookie] [extra wrk args...]
  local name=$1 url=$2 cookie_arg=${3:-} out
  shift 3 || shift $#
  if [[ -n "$cookie_arg" ]]; then
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "cookie: $cookie_arg" "$@" "$url")
  else
    out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url")
  fi
  RPS[$name]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  P50[$name]=$(awk '$1=="50%" {print $2}' <<<"$out")
  P99[$name]=$(awk '$1=="99%" {print $2}' <<<"$out")
  REQS[$name]=$(awk '/requests in/ {print $1}' <<<"$out")
  local errs
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-24s %12s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${errs:-0}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION on $(nproc) cores ($(uname -m)), gatehouse threads $GW_THREADS, $ROUNDS rounds"
run upstream "http://$UP/bench" ""

proxy_ratios=(); verify_ratios=(); nginx_ratios=()
proxied_requests=0; proxied_ticks=0; proxied_xacts=0
reused_before=$(metric 'gatehouse_upstream_connections_total{reused="true"}')
new_before=$(metric 'gatehouse_upstream_connections_total{reused="false"}')
# Interleaved rounds: the machine is shared and noisy, so each ratio compares runs taken
# moments apart, and the median of the rounds is reported. Every target gets the same cookie.
for round in $(seq 1 "$ROUNDS"); do
  run passthrough "http://$PT/bench" "$cookie"
  t0=$(cpu_ticks); x0=$(xacts)
  run gatehouse_proxy "http://$GW/bench" "$cookie"
  proxied_ticks=$(( proxied_ticks + $(cpu_ticks) - t0 )); proxied_xacts=$(( proxied_xacts + $(xacts) - x0 ))
  proxied_requests=$(( proxied_requests + ${REQS[gatehouse_proxy]} ))
  run gatehouse_verify "http://$GW/auth/verify" "$cookie"
  proxy_ratios+=("$(ratio "${RPS[gatehouse_proxy]}" "${RPS[passthrough]}")")
  verify_ratios+=("$(ratio "${RPS[gatehouse_verify]}" "${RPS[passthrough]}")")
  line="round $round: proxy / passthrough = ${proxy_ratios[-1]}, verify / passthrough = ${verify_ratios[-1]}"
  if [[ -n "$nginx_base" ]]; then
    run nginx_auth_request "$nginx_base/bench" "$cookie"
    nginx_ratios+=("$(ratio "${RPS[nginx_auth_request]}" "${RPS[passthrough]}")")
    line="$line, nginx auth_request / passthrough = ${nginx_ratios[-1]}"
  fi
  echo "$line"
done
reused=$(( $(metric 'gatehouse_upstream_connections_total{reused="true"}') - reused_before ))
fresh=$(( $(metric 'gatehouse_upstream_connections_total{reused="false"}') - new_before ))

echo
echo "median gatehouse proxy / passthrough:  $(median "${proxy_ratios[@]}")   (goal >= 0.85)"
echo "median gatehouse verify / passthrough: $(median "${verify_ratios[@]}")   (goal >= 0.9)"
[[ -n "$nginx_base" ]] && echo "median nginx auth_request / passthrough: $(median "${nginx_ratios[@]}")"
hz=$(getconf CLK_TCK)
awk -v r="$reused" -v n="$fresh" 'BEGIN {printf "upstream connection reuse: %.2f %% (%d reused, %d new)\n", 100 * r / (r + n), r, n}'
awk -v t="$proxied_ticks" -v hz="$hz" -v n="$proxied_requests" 'BEGIN {printf "gateway CPU per proxied request: %.1f us (%.2f CPU-s over %d requests)\n", 1e6 * t / hz / n, t / hz, n}'
awk -v x="$proxied_xacts" -v n="$proxied_requests" 'BEGIN {printf "database transactions per proxied request: %.7f (%d over %d requests)\n", x / n, x, n}'

echo
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) {sub(/us$/, "", v); print v / 1000} else if (v ~ /ms$/) {sub(/ms$/, "", v); print v} else {sub(/s$/, "", v); print v * 1000} }'; }
storm() { # a storm of successful sign-ins (bcrypt cost 12) for $DURATION; prints what wrk saw
  wrk -t1 -c8 -d"$DURATION" --timeout 30s --latency -s bench/login.lua "http://$GW/auth/login" \
    | awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {n=$5} /Socket errors/ {e=$0}
           END {printf "%s sign-ins/s, p50 %s, p99 %s, non-2xx %d%s\n", r, p50, p99, n, (e ? ", " e : "")}'
}
# Sign-ins still in bcrypt's queue when a storm ends are finished before the next measurement.
settle() { sleep 3; }
echo "sign-in storm alone (wrk -t1 -c8 --timeout 30s): $(storm)"
settle
echo "sign-in storm beside the authenticated proxy load, $ROUNDS pairs (proxy alone, then with the storm):"
storm_ratios=()
for round in $(seq 1 "$ROUNDS"); do
  run gatehouse_proxy_alone "http://$GW/bench" "$cookie"
  storm >"$TMP/storm.txt" &
  storm_pid=$!
  sleep 0.5
  run gatehouse_proxy_storm "http://$GW/bench" "$cookie"
  wait "$storm_pid" || true
  echo "  sign-ins: $(cat "$TMP/storm.txt")"
  storm_ratios+=("$(ratio "$(to_ms "${P99[gatehouse_proxy_storm]}")" "$(to_ms "${P99[gatehouse_proxy_alone]}")")")
  echo "round $round: proxied p99 with storm / without = ${storm_ratios[-1]}"
  settle
done
echo "median proxied p99 with storm / without: $(median "${storm_ratios[@]}")   (goal <= 2)"

echo
user_id=$(curl -fs -H "cookie: $cookie" "http://$GW/auth/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
psql -At -q -h 127.0.0.1 -U postgres "$DB" -c "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at)
  SELECT gen_random_uuid(), '$user_id', now(), now(), now() + interval '1 day' FROM generate_series(1, $SESSIONS)
  RETURNING id" | grep -E '^[0-9a-f-]{36}$' | python3 bench/mint_tokens.py "$SECRET" "$user_id" >"$TMP/tokens"
rss_before=$(rss_kib)
# Each session's first request is a cache miss (a database read); keep going until (nearly)
# all of them are held in memory.
for _ in 1 2 3 4 5 6; do
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" -s bench/many_sessions.lua "http://$GW/bench" -- "$TMP/tokens" >/dev/null
  cached=$(metric gatehouse_session_cache_entries)
  (( cached * 100 >= SESSIONS * 99 )) && break
done
sleep 1
rss_after=$(rss_kib)
echo "resident memory: $((rss_before / 1024)) MiB before, $((rss_after / 1024)) MiB with $cached sessions cached" \
  "($(( (rss_after - rss_before) * 1024 / (cached > 0 ? cached : 1) )) bytes per session; goal <= 150 MiB at 100,000)"
