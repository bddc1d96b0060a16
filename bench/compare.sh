#!/usr/bin/env bash
# Two gatehouse builds side by side, in one invocation, against the same upstream and beside the
# plain Pingora passthrough: the authenticated proxy's requests/s of each, in interleaved rounds,
# and the ratios new / old and each / passthrough (medians). For "did this change make the hot
# path slower?", where two runs of bench/run.sh minutes apart differ by more than the change.
#
#   OLD=/path/to/old/gatehouse bash bench/compare.sh          # 5 rounds of 8 s, wrk -t2 -c64
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release --bin gatehouse)
#
# Needs: wrk, PostgreSQL on 127.0.0.1:5432, the old binary.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts release binaries (CARGO_TARGET_DIR, as cargo reads it).
REL=${CARGO_TARGET_DIR:-target}/release

OLD=${OLD:?set OLD to the old gatehouse binary}
DURATION=${DURATION:-8s}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
UP=127.0.0.1:18581; PT=127.0.0.1:18582
SECRET=benchmark-secret-benchmark-secret-0123
TMP=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}" $(cat "$TMP/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in gatehouse_cmp_old_$$ gatehouse_cmp_new_$$; do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1 || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# NO_BUILD=1: measure the binaries already in $REL (say, while the tree has moved on).
[[ -n ${NO_BUILD:-} ]] ||
  cargo build --release --locked --bin gatehouse --example echo_upstream --example passthrough 2>&1 | tail -n1
"$REL"/examples/echo_upstream "$UP" >/dev/null & pids+=($!)
"$REL"/examples/passthrough "$PT" "$UP" "$THREADS" 2>/dev/null & pids+=($!)

start() { # name binary port admin
  env -i PATH="$PATH" DATABASE_URL="postgres://postgres@127.0.0.1:5432/gatehouse_cmp_$1_$$" \
    GATEHOUSE_LISTEN="127.0.0.1:$3" GATEHOUSE_ADMIN_LISTEN="127.0.0.1:$4" GATEHOUSE_UPSTREAM="$UP" \
    GATEHOUSE_JWT_SECRET="$SECRET" GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_CACHE_TTL=60s \
    GATEHOUSE_BCRYPT_COST=4 GATEHOUSE_THREADS="$THREADS" GATEHOUSE_LOG=warn \
    GATEHOUSE_REGISTRATION=open "$2" serve >/dev/null 2>"$TMP/$1.log" &
  echo $! >>"$TMP/pids"
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$4/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs -X POST "http://127.0.0.1:$3/auth/register" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"benchmark password"}' >/dev/null
  curl -fs -D - -o /dev/null -X POST "http://127.0.0.1:$3/auth/login" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"benchmark password"}' | tr -d '\r' \
    | awk -F'[ ;]' 'tolower($1)=="set-cookie:" && $2 ~ /^access_token=/ {print $2}'
}
old_cookie=$(start old "$OLD" 18583 18584)
new_cookie=$(start new "$REL"/gatehouse 18585 18586)
[[ -n "$old_cookie" && -n "$new_cookie" ]] || { cat "$TMP"/*.log; echo "login failed" >&2; exit 1; }

rps() { wrk -t2 -c"$CONNS" -d"$DURATION" -H "cookie: $2" "http://$1/bench" | awk '/Requests\/sec/ {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "wrk -t2 -c$CONNS -d$DURATION, $ROUNDS interleaved rounds; old: $OLD"
new_old=(); old_pt=(); new_pt=()
for round in $(seq 1 "$ROUNDS"); do
  pt=$(rps "$PT" "$new_cookie"); old=$(rps 127.0.0.1:18583 "$old_cookie"); new=$(rps 127.0.0.1:18585 "$new_cookie")
  new_old+=("$(ratio "$new" "$old")"); old_pt+=("$(ratio "$old" "$pt")"); new_pt+=("$(ratio "$new" "$pt")")
  echo "round $round: passthrough $pt, old $old, new $new req/s; new/old ${new_old[-1]}, old/pt ${old_pt[-1]}, new/pt ${new_pt[-1]}"
done
echo "median new / old: $(median "${new_old[@]}")   old / passthrough: $(median "${old_pt[@]}")   new / passthrough: $(median "${new_pt[@]}")"
