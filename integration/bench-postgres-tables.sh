#!/usr/bin/env bash
# Benchmark of `syncctl verify` on a PostgreSQL pair of many small tables: the tables digested one
# after another (check_concurrency: 1) beside several at once (check_concurrency: 4, the default),
# each lane on its own connection per side sharing that side's snapshot. Two independent clusters
# (the publisher and subscriber of integration/pg.sh) get the same TABLES tables of ROWS rows in a
# schema of their own, dropped at the end. Median (min-max) of RUNS runs (default 3), the two
# settings alternating; CPU steal over the measurements.
# Usage: integration/bench-postgres-tables.sh [TABLES [ROWS]]      (default: 1000 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
TABLES=${1:-1000}
ROWS=${2:-1000}
RUNS=${RUNS:-3}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"

bash integration/install-deps.sh >/dev/null
bash integration/pg.sh start >/dev/null
eval "$(bash integration/pg.sh env)"
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)
export PGPASSWORD=$SYNCD_PG_PASSWORD
P=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_PUBLISHER_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
D=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_SUBSCRIBER_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() { for side in P D; do declare -n args=$side; psql_q "${args[@]}" -c "DROP SCHEMA IF EXISTS bench_tables CASCADE" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

for side in P D; do
  declare -n args=$side
  psql_q "${args[@]}" <<SQL &
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_tables CASCADE;
CREATE SCHEMA bench_tables;
DO \$\$ BEGIN
  FOR i IN 1..$TABLES LOOP
    EXECUTE format('CREATE TABLE bench_tables.t%s (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2))', i);
    EXECUTE format('INSERT INTO bench_tables.t%s SELECT g, %L || g, g * 1.25 FROM generate_series(1, $ROWS) g', i, 'row-');
  END LOOP;
END \$\$;
ANALYZE;
CHECKPOINT;
SQL
done
wait

config() { # concurrency -> file
  cat > "$STATE/bench-tables-$1.yaml" <<YAML
listen: 127.0.0.1:8494
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-tables-$1.sqlite
sources:
  - name: bench
    kind: postgres
    mode: independent
    schemas: [bench_tables]
    check_concurrency: $1
    primary: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_PUBLISHER_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: PGPASSWORD}}
    dr: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_SUBSCRIBER_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: PGPASSWORD}}
YAML
  echo "$STATE/bench-tables-$1.yaml"
}
verify() { # concurrency -> "seconds tables"
  rm -f "$STATE"/journal-tables-*.sqlite*
  BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" verify --config "$(config "$1")" --source bench --json 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["status"] == "pass", r.get("error"); print("%.3f %d" % (r["duration_seconds"], len(r["tables"])))'
}
source integration/bench-stats.sh

read -r steal0 all0 < <(steal)
one=(); four=(); speedups=()
for _ in $(seq "$RUNS"); do
  read -r a checked < <(verify 1); one+=("$a")
  read -r b checked < <(verify 4); four+=("$b")
  speedups+=("$(echo "$a / $b" | bc -l | xargs printf '%.2f')")
done
printf '\n%s tables of %s rows (%s compared per check); median (min-max) of %s runs, seconds\n' "$TABLES" "$ROWS" "$checked" "$RUNS"
printf '%-40s %s\n' "one after another (check_concurrency 1)" "$(median "${one[@]}") ($(range "${one[@]}"))"
printf '%-40s %s\n' "four at once (check_concurrency 4)" "$(median "${four[@]}") ($(range "${four[@]}"))"
printf '%-40s %sx (%s)\n' "speed-up" "$(median "${speedups[@]}")" "$(range "${speedups[@]}")"
steal_since "$steal0" "$all0"
