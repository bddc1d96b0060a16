#!/usr/bin/env bash
# Signed assertion benchmark (docs/contract.md §11), side by side in one invocation with one
# load tool: the authenticated proxy of gatehouse without assertion keys (the baseline), and
# the same gateway with an Ed25519 key and with a P-256 key, each of which adds a signed
# X-Auth-Assertion to every forwarded request (minted once per session and host, reused for
# 30 s). The three share one database and one JWT secret, so one sign-in serves all. Rounds
# rotate the order, and each ratio is taken within its round.
#
#   bash bench/assertion.sh                     # 3 rounds of 10 s, wrk -t2 -c64
#   ROUNDS=5 DURATION=20s bash bench/assertion.sh
#
# Needs: wrk, openssl, psql, PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release binaries (CARGO_TARGET_DIR, as cargo reads it).
REL=${CARGO_TARGET_DIR:-target}/release

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-3}
GW_THREADS=${GW_THREADS:-2}
UP=127.0.0.1:18591
PLAIN=127.0.0.1:18593
PLAIN_ADMIN=127.0.0.1:18594
ED=127.0.0.1:18595
ED_ADMIN=127.0.0.1:18596
EC=127.0.0.1:18597
EC_ADMIN=127.0.0.1:18598
DB=gatehouse_bench_assertion_$$
SECRET=benchmark-secret-benchmark-secret-0123
TMP=$(mktemp -d)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
# NO_BUILD=1: measure the binaries already built.
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

openssl genpkey -algorithm ed25519 -out "$TMP/ed25519.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/p256.pem" 2>/dev/null

"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
gateway() { # listen admin assertion-keys
  env -i PATH="$PATH" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" \
    GATEHOUSE_LISTEN="$1" GATEHOUSE_ADMIN_LISTEN="$2" GATEHOUSE_UPSTREAM="$UP" \
    GATEHOUSE_ASSERTION_KEYS="$3" \
    GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_CACHE_TTL=60s \
    GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS="$GW_THREADS" GATEHOUSE_LOG=warn \
    GATEHOUSE_REGISTRATION=open \
    "$REL"/gatehouse serve 2>>"$TMP/gatehouse.log" & pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://$2/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$TMP/gatehouse.log"; exit 1
}
# One at a time: the first creates the database and applies the migrations.
gateway "$PLAIN" "$PLAIN_ADMIN" ""
gateway "$ED" "$ED_ADMIN" "$TMP/ed25519.pem"
gateway "$EC" "$EC_ADMIN" "$TMP/p256.pem"

curl -fs -X POST "http://$PLAIN/auth/register" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' >/dev/null
cookie=$(curl -fs -D - -o /dev/null -X POST "http://$PLAIN/auth/login" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
  | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}')
[[ -n "$cookie" ]] || { echo "login failed" >&2; exit 1; }
# The comparison means something only if the keyed gateways do sign and the plain one does not.
for gw in "$PLAIN" "$ED" "$EC"; do
  body=$(curl -fs -H "cookie: $cookie" "http://$gw/bench")
  case $gw in
    "$PLAIN") ! grep -qi x-auth-assertion <<<"$body" || { echo "$gw asserted without keys" >&2; exit 1; } ;;
    *) grep -qi x-auth-assertion <<<"$body" || { echo "$gw sent no assertion" >&2; exit 1; } ;;
  esac
done

declare -A RPS
run() { # name url [wrk args...]
  local name=$1 url=$2 out
  shift 2
  out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url")
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
ed_vs_plain=(); ec_vs_plain=()
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  order=(plain ed25519 p256)
  for _ in $(seq 2 "$round"); do order=("${order[@]:1}" "${order[0]}"); done
  for name in "${order[@]}"; do
    case $name in
      plain) run plain "http://$PLAIN/bench" -H "cookie: $cookie" ;;
      ed25519) run ed25519 "http://$ED/bench" -H "cookie: $cookie" ;;
      p256) run p256 "http://$EC/bench" -H "cookie: $cookie" ;;
    esac
  done
  ed_vs_plain+=("$(ratio "${RPS[ed25519]}" "${RPS[plain]}")")
  ec_vs_plain+=("$(ratio "${RPS[p256]}" "${RPS[plain]}")")
done
echo "Ed25519 assertion / no assertion: ${ed_vs_plain[*]} (median $(median "${ed_vs_plain[@]}"), goal >= 0.9)"
echo "P-256 assertion / no assertion:   ${ec_vs_plain[*]} (median $(median "${ec_vs_plain[@]}"), goal >= 0.9)"
