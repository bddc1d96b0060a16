#!/usr/bin/env bash
# Routes benchmark (docs/contract.md §9), side by side in one invocation with one load tool:
#   plain Pingora passthrough to the echo upstream (the baseline);
#   gatehouse with the implicit route (today's single-route gateway), authenticated proxy;
#   gatehouse with 100 routes x 10 rules (bench/many_routes.py), authenticated proxy to a
#   route whose ten rules are all tried before its own policy decides.
# Both gateways share one database and one JWT secret, so one sign-in serves both. Rounds
# rotate the order, and each ratio is taken within its round.
#
#   bash bench/routes.sh                     # 3 rounds of 10 s, wrk -t2 -c64
#   ROUNDS=5 DURATION=20s bash bench/routes.sh
#
# Needs: wrk, python3, psql, PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release binaries (CARGO_TARGET_DIR, as cargo reads it).
REL=${CARGO_TARGET_DIR:-target}/release

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
GW_THREADS=${GW_THREADS:-2}
UP=127.0.0.1:18491
PT=127.0.0.1:18492
ONE=127.0.0.1:18493
ONE_ADMIN=127.0.0.1:18494
MANY=127.0.0.1:18495
MANY_ADMIN=127.0.0.1:18496
DB=gatehouse_bench_routes_$$
SECRET=benchmark-secret-benchmark-secret-0123
HOST=app57.example.com
TMP=$(mktemp -d)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
# NO_BUILD=1: measure the binaries already in $REL (say, while the tree has moved on).
[[ -n ${NO_BUILD:-} ]] ||
  cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

python3 bench/many_routes.py "$UP" >"$TMP/routes.toml"

"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
"$REL"/examples/passthrough "$PT" "$UP" "$GW_THREADS" 2>/dev/null & pids+=($!)
gateway() { # listen admin [--config file]
  local listen=$1 admin=$2
  shift 2
  env -i PATH="$PATH" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
    GATEHOUSE_LISTEN="$listen" GATEHOUSE_ADMIN_LISTEN="$admin" GATEHOUSE_UPSTREAM="$UP" \
    GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_CACHE_TTL=60s \
    GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS="$GW_THREADS" GATEHOUSE_LOG=warn \
    GATEHOUSE_REGISTRATION=open \
    "$REL"/gatehouse "$@" serve 2>>"$TMP/gatehouse.log" & pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://$admin/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$TMP/gatehouse.log"; exit 1
}
gateway "$ONE" "$ONE_ADMIN"
# With [[routes]], GATEHOUSE_UPSTREAM is not used (one warning line).
gateway "$MANY" "$MANY_ADMIN" --config "$TMP/routes.toml"

curl -fs -X POST "http://$ONE/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fs -D - -o /dev/null -X POST "http://$ONE/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
[[ -n "$cookie" ]] || { echo "login failed" >&2; exit 1; }
for gw in "$ONE" "$MANY"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "cookie: $cookie" -H "host: $HOST" "http://$gw/bench")
  [[ $code == 200 ]] || { echo "$gw answered $code"; cat "$TMP/gatehouse.log"; exit 1; }
done

declare -A RPS
# `Host` spelt so: wrk adds its own unless the header is named exactly `Host`, and two Host
# headers are a 400.
run() { # name url [wrk args...]
  local name=$1 url=$2 out
  shift 2
  out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" "$@" "$url")
  RPS[$name]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local p99 errs
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '  %-14s %12s req/s   p99 %9s   non-2xx %s\n' "$name" "${RPS[$name]}" "$p99" "${errs:-0}"
  [[ -z $errs ]] || { echo "$name answered non-2xx: the comparison would be meaningless" >&2; exit 1; }
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "wrk -t$WRK_THREADS -c$CONNS -d$DURATION on $(nproc) cores, gateway threads $GW_THREADS, $ROUNDS rounds"
many_vs_one=(); one_vs_pt=()
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  order=(passthrough single many)
  for _ in $(seq 2 "$round"); do order=("${order[@]:1}" "${order[0]}"); done
  for name in "${order[@]}"; do
    case $name in
      # The same request as the gateways get, cookie included (as bench/tls.sh does): without
      # it the baseline parses, forwards and has echoed back some 270 bytes fewer per request.
      passthrough) run passthrough "http://$PT/bench" -H "cookie: $cookie" ;;
      single) run single "http://$ONE/bench" -H "cookie: $cookie" ;;
      many) run many "http://$MANY/bench" -H "cookie: $cookie" ;;
    esac
  done
  many_vs_one+=("$(ratio "${RPS[many]}" "${RPS[single]}")")
  one_vs_pt+=("$(ratio "${RPS[single]}" "${RPS[passthrough]}")")
done
echo "100 routes x 10 rules / single route: ${many_vs_one[*]} (median $(median "${many_vs_one[@]}"))"
echo "single route / passthrough:           ${one_vs_pt[*]} (median $(median "${one_vs_pt[@]}"))"
