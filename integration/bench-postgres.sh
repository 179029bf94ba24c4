#!/usr/bin/env bash
# Benchmark of `syncctl verify` on PostgreSQL, side by side in one run with
#   - the floor: one in-database hashing scan of each side, both sides in parallel, and
#   - reladiff (the maintained data-diff fork, from PyPI, in a virtualenv) on the same pair.
# Two independent clusters (the publisher and subscriber of integration/pg.sh; the bench schema is
# not replicated) get the same table of N rows, then the same table with 30 scattered differences.
# The machine is shared and noisy: each figure is the median (min-max) of RUNS rounds (default 3),
# floor, verify and reladiff one after another in each; the speedup's range is per round. CPU steal
# over the run is printed. RELADIFF=0 leaves reladiff out (the 20M-row memory run).
# Usage: [RUNS=3] [RELADIFF=1] integration/bench-postgres.sh [ROWS ...]      (default: 1000000 5000000)
# It stops by itself; tables are dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(1000000 5000000)
RUNS=${RUNS:-3}
RELADIFF=${RELADIFF:-1}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"

bash integration/install-deps.sh
bash integration/pg.sh start >/dev/null
eval "$(bash integration/pg.sh env)"
if [ ! -x "$STATE/venv/bin/reladiff" ]; then
  python3 -m venv "$STATE/venv"
  "$STATE/venv/bin/pip" install -q reladiff psycopg2-binary
fi
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)

export PGPASSWORD=$SYNCD_PG_PASSWORD
P=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_PUBLISHER_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
D=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_SUBSCRIBER_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
URL_P="postgresql://$SYNCD_PG_USER:$SYNCD_PG_PASSWORD@$SYNCD_PG_HOST:$SYNCD_PG_PUBLISHER_PORT/$SYNCD_PG_DATABASE"
URL_D="postgresql://$SYNCD_PG_USER:$SYNCD_PG_PASSWORD@$SYNCD_PG_HOST:$SYNCD_PG_SUBSCRIBER_PORT/$SYNCD_PG_DATABASE"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.3f'; }
source integration/bench-stats.sh

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  for side in P D; do declare -n args=$side; psql_q "${args[@]}" -c "DROP SCHEMA IF EXISTS bench CASCADE" 2>/dev/null || true; done
}
trap cleanup EXIT

load() { # rows
  for side in P D; do
    declare -n args=$side
    psql_q "${args[@]}" <<SQL &
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.t (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(14,2), at timestamptz, qty int);
INSERT INTO bench.t SELECT g, 'customer-' || g, (g % 100000) * 1.25, '2024-01-01'::timestamptz + g * interval '1 second', g % 1000
  FROM generate_series(1, $1) g;
VACUUM ANALYZE bench.t;
-- Flush the load now, so no checkpoint of it runs under the measurements (it would slow whichever
-- tool came first).
CHECKPOINT;
SQL
  done
  wait
}

floor_scan() { # seconds for both sides' hashing scans, in parallel
  local q="SELECT count(*), bit_xor(hash_record_extended(t, 0)) FROM bench.t t"
  local t0; t0=$(now)
  psql_q "${P[@]}" -tAc "$q" >/dev/null & psql_q "${D[@]}" -tAc "$q" >/dev/null & wait
  elapsed "$t0" "$(now)"
}

start_syncd() {
  cat > "$STATE/bench.yaml" <<YAML
listen: 127.0.0.1:8490
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal.sqlite
sources:
  - name: bench
    kind: postgres
    mode: logical
    tables: [bench.t]
    primary: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_PUBLISHER_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: SYNCD_PG_PASSWORD}}
    dr: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_SUBSCRIBER_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: SYNCD_PG_PASSWORD}}
YAML
  rm -f "$STATE/journal.sqlite"*
  BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncd" --config "$STATE/bench.yaml" --log-level warning >"$STATE/syncd.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:8490/healthz >/dev/null 2>&1 && return; sleep 0.1; done
  echo "syncd did not start" >&2; cat "$STATE/syncd.log" >&2; exit 2
}

verify() { # prints "seconds differing"
  local t0 out; t0=$(now)
  # Progress lines (stderr) go to a log: the table shows figures only.
  out=$(SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" verify --server http://127.0.0.1:8490 --source bench --full-diff --json 2>>"$STATE/verify-progress.log" || true)
  local t1; t1=$(now)
  echo "$(elapsed "$t0" "$t1") $(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["missing"]+r["extra"]+r["changed"])')"
}

reladiff_run() { # prints "seconds differing"
  local t0 out; t0=$(now)
  out=$("$STATE/venv/bin/reladiff" "$URL_P" bench.t "$URL_D" bench.t -k id -c name -c amount -c at -c qty --json 2>/dev/null || true)
  local t1; t1=$(now)
  echo "$(elapsed "$t0" "$t1") $(echo -n "$out" | grep -c . || true)"
}

rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status"; }

ratio() { echo "$1 / $2" | bc -l | xargs printf "%.${3:-2}f"; }
# One table variant: RUNS rounds of floor, verify and reladiff; one line of medians (min-max).
measure() { # rows label
  local floors=() verifies=() reladiffs=() speedups=() vd rd t found=0 lines=0
  for _ in $(seq "$RUNS"); do
    floors+=("$(floor_scan)")
    read -r t vd < <(verify); verifies+=("$t"); found=$vd
    if [ "$RELADIFF" = 1 ]; then
      read -r t rd < <(reladiff_run); reladiffs+=("$t"); lines=$rd
      speedups+=("$(ratio "$t" "${verifies[-1]}" 3)")
    fi
  done
  local f v; f=$(median "${floors[@]}"); v=$(median "${verifies[@]}")
  local rel="-" speed="-"
  if [ "$RELADIFF" = 1 ]; then
    rel="$(median "${reladiffs[@]}") ($(range "${reladiffs[@]}"))"
    speed="$(ratio "$(median "${reladiffs[@]}")" "$v" 1)x ($(range "${speedups[@]}" | awk -F- '{printf "%.1f-%.1f", $1, $2}'))"
  fi
  printf '%-9s %-11s %-22s %-22s %-7s %-12s %-26s %-18s %-6s %-9s %s MiB\n' "$1" "$2" "$f ($(range "${floors[@]}"))" "$v ($(range "${verifies[@]}"))" \
    "$(ratio "$v" "$f")" "$(ratio "${verifies[0]}" "$f")" "$rel" "$speed" "$found" "$lines" "$(( $(rss_kib) / 1024 ))"
}

read -r steal0 all0 < <(steal)
printf '\n%-9s %-11s %-22s %-22s %-7s %-12s %-26s %-18s %-6s %-9s %s\n' rows table "floor s" "verify s" "/floor" "1st /floor" "reladiff s" "speedup" found reladiff "syncd peak RSS"
for rows in "${SIZES[@]}"; do
  load "$rows"
  start_syncd
  measure "$rows" identical
  # 30 scattered differences on the DR side: 10 missing, 10 changed, 10 extra.
  psql_q "${D[@]}" <<SQL
DELETE FROM bench.t WHERE id IN (SELECT (g * $rows / 11)::bigint FROM generate_series(1, 10) g);
UPDATE bench.t SET name = 'changed' WHERE id IN (SELECT (g * $rows / 13 + 7)::bigint FROM generate_series(1, 10) g);
INSERT INTO bench.t SELECT $rows + g * 1000, 'extra', 1, now(), 1 FROM generate_series(1, 10) g;
SQL
  measure "$rows" "30 planted"
  kill "$SYNCD_PID"; wait "$SYNCD_PID" 2>/dev/null || true; SYNCD_PID=
done
echo
echo "Medians (min-max) of $RUNS rounds, seconds. speedup: reladiff's median / verify's median (the range: each round's own ratio)."
echo "floor: the cheapest hashing scan of the raw rows, count + bit_xor(hash_record_extended(row)), both sides at once."
echo "verify: wall time of syncctl verify --full-diff against a release syncd (3 rounds when rows differ); reladiff at its default settings."
echo "1st /floor: the line's first verify over the median floor. syncd digests a table that differed at its previous check in key"
echo "       buckets from the start (no second full scan to bisect it): the first check of the 30 planted rows is not such"
echo "       a check, the later rounds are."
echo "found: differences reported (expected 0 and 30); for reladiff, the lines it printed (one per differing row version, - or +)."
echo "syncd peak RSS: VmHWM of the syncd process after the rounds of that line."
steal_since "$steal0" "$all0"
