#!/usr/bin/env bash
# Benchmark of `syncctl cutover` over all four kinds at once, side by side in one run with the
# reference: the four `syncctl verify` runs one after another. Data, identical on both sides:
#   PostgreSQL: ROWS rows on the primary, replicated to the physical standby (integration/pg.sh);
#   Redis: KEYS keys of mixed types on the primary, followed by its replica (integration/redis.sh);
#   Kafka: RECORDS records over 6 partitions, copied to the DR mock cluster by syncd's built-in
#          mirror before the measurements (timestamps and headers kept);
#   S3: OBJECTS objects in a bucket of each SeaweedFS cluster (integration/s3.sh).
# Each figure is the median of RUNS runs (cutover and sequential verifies alternating) with its
# range; syncd is restarted for each so its peak RSS (VmHWM) belongs to that run alone. The CPU
# steal over the measurements is printed too.
# Usage: integration/bench-cutover.sh [ROWS [KEYS [RECORDS [OBJECTS [RUNS]]]]]
#        (default: 1000000 1000000 1000000 10000 3). It stops by itself; bench data is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
ROWS=${1:-1000000} KEYS=${2:-1000000} RECORDS=${3:-1000000} OBJECTS=${4:-10000} RUNS=${5:-3}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"

bash integration/install-deps.sh
command -v rclone >/dev/null || { apt-get install -y -qq rclone >/dev/null; }
command -v kcat >/dev/null || { apt-get install -y -qq kcat >/dev/null; }
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)
for kind in pg redis kafka s3; do bash integration/$kind.sh start >/dev/null; eval "$(bash integration/$kind.sh env)"; done
now() { date +%s.%N; }
export PGPASSWORD=$SYNCD_PG_PASSWORD
P=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_PRIMARY_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
S=(-h "$SYNCD_PG_HOST" -p "$SYNCD_PG_STANDBY_PORT" -U "$SYNCD_PG_USER" -d "$SYNCD_PG_DATABASE")
rcli() { REDISCLI_AUTH=$SYNCD_REDIS_PASSWORD redis-cli -h "$SYNCD_REDIS_HOST" -p "$1" --no-auth-warning "${@:2}"; }
BUCKET=bench-cutover
TOPIC=bench-cutover-$$

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  psql -X -q "${P[@]}" -c "DROP SCHEMA IF EXISTS bench_cutover CASCADE" 2>/dev/null || true
  rcli "$SYNCD_REDIS_PRIMARY_PORT" FLUSHALL >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "loading: $ROWS rows, $KEYS keys, $RECORDS records, $OBJECTS objects..."
psql -X -q -v ON_ERROR_STOP=1 "${P[@]}" <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_cutover CASCADE;
CREATE SCHEMA bench_cutover;
CREATE TABLE bench_cutover.t (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(14,2), qty int);
INSERT INTO bench_cutover.t SELECT g, 'customer-' || g, (g % 100000) * 1.25, g % 1000 FROM generate_series(1, $ROWS) g;
CHECKPOINT;
SQL
rcli "$SYNCD_REDIS_PRIMARY_PORT" FLUSHALL >/dev/null
awk -v n="$KEYS" 'function cmd(s,   parts, k, out) {
    k = split(s, parts, " "); out = "*" k "\r\n"
    for (i = 1; i <= k; i++) out = out "$" length(parts[i]) "\r\n" parts[i] "\r\n"
    printf "%s", out }
  BEGIN { for (j = 0; j < n; j++) { t = j % 3
    if (t == 0) cmd("SET s:" j " value-" j)
    else if (t == 1) cmd("HSET h:" j " name user-" j " visits " j)
    else cmd("RPUSH l:" j " a b " j) } }' | rcli "$SYNCD_REDIS_PRIMARY_PORT" --pipe >/dev/null
bash integration/kafka.sh create primary "$TOPIC" 6
bash integration/kafka.sh create dr "$TOPIC" 6
awk -v n="$RECORDS" 'BEGIN { for (i = 0; i < n; i++) printf "order-%d\t{\"id\":%d,\"amount\":%d}\n", i, i, i % 977 }' |
  kcat -b "$SYNCD_KAFKA_PRIMARY" -P -t "$TOPIC" -K '\t' -z lz4 -H source=bench -X linger.ms=20 -X batch.num.messages=10000
objects=$STATE/cutover-objects-$OBJECTS
if [ ! -d "$objects" ]; then
  mkdir -p "$objects"
  python3 - "$objects" "$OBJECTS" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(count)
for i in range(count):
    with open(os.path.join(root, "object-%07d.bin" % i), "wb") as f:
        f.write(os.urandom(random.randint(1024, 8192)))
PY
fi
unset AWS_CA_BUNDLE
for remote in P D; do
  url=$SYNCD_S3_PRIMARY; [ $remote = D ] && url=$SYNCD_S3_DR
  export RCLONE_CONFIG_${remote}_TYPE=s3 RCLONE_CONFIG_${remote}_PROVIDER=SeaweedFS RCLONE_CONFIG_${remote}_ENDPOINT=$url
  export RCLONE_CONFIG_${remote}_ACCESS_KEY_ID=$SYNCD_S3_ACCESS RCLONE_CONFIG_${remote}_SECRET_ACCESS_KEY=$SYNCD_S3_SECRET
done
bash integration/s3.sh bucket primary $BUCKET
bash integration/s3.sh bucket dr $BUCKET
rclone sync "$objects" "p:$BUCKET" --transfers 32 --checkers 32 -q
rclone sync "$objects" "d:$BUCKET" --transfers 32 --checkers 32 -q
# The standby and the replica have everything before any measurement.
for _ in $(seq 600); do
  n=$(psql -X -tAq "${S[@]}" -c "SELECT count(*) FROM bench_cutover.t" 2>/dev/null || echo 0)
  p=$(rcli "$SYNCD_REDIS_PRIMARY_PORT" INFO replication | awk -F: '/^master_repl_offset/ {print $2+0}')
  r=$(rcli "$SYNCD_REDIS_REPLICA_PORT" INFO replication | awk -F: '/^slave_repl_offset/ {print $2+0}')
  [ "$n" = "$ROWS" ] && [ "$p" = "$r" ] && break
  sleep 0.2
done

cat > "$STATE/bench-cutover.yaml" <<YAML
listen: 127.0.0.1:8497
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-cutover.sqlite
sources:
  - name: pg
    kind: postgres
    schemas: [bench_cutover]
    primary: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_PRIMARY_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: SYNCD_PG_PASSWORD}}
    dr: {host: $SYNCD_PG_HOST, port: $SYNCD_PG_STANDBY_PORT, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {env: SYNCD_PG_PASSWORD}}
  - name: redis
    kind: redis
    mode: replica
    primary: {host: $SYNCD_REDIS_HOST, port: $SYNCD_REDIS_PRIMARY_PORT, user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}
    dr: {host: $SYNCD_REDIS_HOST, port: $SYNCD_REDIS_REPLICA_PORT, user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}
  - name: kafka
    kind: kafka
    mode: mirror
    topics: [$TOPIC]
    primary: {bootstrap: "$SYNCD_KAFKA_PRIMARY"}
    dr: {bootstrap: "$SYNCD_KAFKA_DR"}
  - name: s3
    kind: s3
    mode: native
    primary: {url: "$SYNCD_S3_PRIMARY", bucket: $BUCKET, access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}
    dr: {url: "$SYNCD_S3_DR", bucket: $BUCKET, access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}
YAML
export BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 SYNCD_SERVER=http://127.0.0.1:8497 SYNCD_TOKEN=bench-admin-token-0123456789

start_syncd() {
  rm -f "$STATE/journal-cutover.sqlite"*
  "$BIN/syncd" --config "$STATE/bench-cutover.yaml" --log-level warning >"$STATE/syncd-cutover.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:8497/healthz >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 3 # a few polls: the gate judges fresh samples, and the exposure window is not empty
}
stop_syncd() { # prints syncd's peak RSS in MiB
  local kib; kib=$(awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status")
  kill "$SYNCD_PID"
  for _ in $(seq 200); do kill -0 "$SYNCD_PID" 2>/dev/null || break; sleep 0.1; done
  echo $((kib / 1024))
}
source integration/bench-stats.sh

cutover() { # -> "total_seconds status drain verify" (phases: the slowest source's)
  "$BIN/syncctl" cutover --json --timeout 30m 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
def worst(name): return max((p["seconds"] for s in r["sources"] for p in s["phases"] if p["phase"] == name), default=0)
print("%.2f %s %.2f %.2f" % (r["seconds_to_verdict"], r["status"], worst("drain"), worst("verify")))'
}
sequential() { # -> "sum_seconds largest_single_source"
  local sum=0 start end
  for source in pg redis kafka s3; do
    start=$(now)
    "$BIN/syncctl" verify --source "$source" --json >/dev/null 2>>"$STATE/verify-progress.log" || { echo "verify of $source failed" >&2; exit 2; }
    end=$(now)
    sum=$(echo "$sum + $end - $start" | bc -l)
  done
  printf '%.2f\n' "$sum"
}

# The built-in mirror copies the topic once; later runs resume where the DR side ends.
start_syncd
"$BIN/syncctl" drain --source kafka --timeout 20m >/dev/null
stop_syncd >/dev/null

totals=() sums=() cut_rss=() seq_rss=() drains=() verifies=() statuses=()
read -r steal0 all0 < <(steal)
for run in $(seq "$RUNS"); do
  start_syncd
  read -r total status drain verify < <(cutover)
  totals+=("$total"); statuses+=("$status"); drains+=("$drain"); verifies+=("$verify")
  cut_rss+=("$(stop_syncd)")
  start_syncd
  sums+=("$(sequential)")
  seq_rss+=("$(stop_syncd)")
  echo "run $run: cutover $total s ($status), sequential verifies ${sums[-1]} s"
done
read -r steal1 all1 < <(steal)

printf '\n%-34s %-20s %-20s\n' "" "median (range)" "reference: 4 verifies in a row"
printf '%-34s %-20s %-20s\n' "time to verdict (s)" "$(median "${totals[@]}") ($(range "${totals[@]}"))" "$(median "${sums[@]}") ($(range "${sums[@]}"))"
printf '%-34s %-20s\n' "slowest drain phase (s)" "$(median "${drains[@]}") ($(range "${drains[@]}"))"
printf '%-34s %-20s\n' "slowest verify phase (s)" "$(median "${verifies[@]}") ($(range "${verifies[@]}"))"
printf '%-34s %-20s %-20s\n' "syncd peak RSS (MiB)" "$(median "${cut_rss[@]}") ($(range "${cut_rss[@]}"))" "$(median "${seq_rss[@]}") ($(range "${seq_rss[@]}"))"
printf '%-34s %s\n' "verdicts" "${statuses[*]}"
printf '%-34s %.1f %%\n' "CPU steal during the runs" "$(echo "100 * ($steal1 - $steal0) / ($all1 - $all0)" | bc -l)"
echo "data: $ROWS PostgreSQL rows (physical standby), $KEYS Redis keys (replica), $RECORDS Kafka records (6 partitions), $OBJECTS objects"
echo "target on this 2-core machine: time to verdict < 30 s"
