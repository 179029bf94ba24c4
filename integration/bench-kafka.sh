#!/usr/bin/env bash
# Benchmark of Kafka on two librdkafka mock clusters (integration/kafka.sh, with its own state
# directory), printed side by side in one run: the floor — a plain librdkafka consumer (kcat -C -e)
# reading the source topic — against syncd's built-in mirror (records/s until the DR side holds
# every record) and `syncctl verify` (records/s of the check). Records: small keyed JSON values with
# a header, over 6 partitions, produced with lz4 (the mock keeps only the last 5 MiB of each
# partition; the script checks that nothing was dropped). Floor and check are each the best of 3
# runs, alternating; the mirror runs once (it needs an empty DR topic).
# Usage: integration/bench-kafka.sh [RECORDS [PARTITIONS]]      (default: 1000000 records, 6 partitions)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
RECORDS=${1:-1000000}
PARTITIONS=${2:-6}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"
export SYNCD_KAFKA_DIR=/var/tmp/syncd-kafka-bench

bash integration/install-deps.sh
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  bash integration/kafka.sh stop
}
trap cleanup EXIT
bash integration/kafka.sh stop
bash integration/kafka.sh start >/dev/null
eval "$(bash integration/kafka.sh env)"
now() { date +%s.%N; }
source integration/bench-stats.sh
best() { printf '%s\n' "$@" | sort -g | head -1; }

topic=bench
bash integration/kafka.sh create primary $topic $PARTITIONS
bash integration/kafka.sh create dr $topic $PARTITIONS
echo "loading $RECORDS records into $PARTITIONS partitions..."
awk -v n="$RECORDS" 'BEGIN { for (i = 0; i < n; i++) printf "order-%d\t{\"id\":%d,\"amount\":%d,\"currency\":\"EUR\"}\n", i, i, i % 977 }' |
  kcat -b "$SYNCD_KAFKA_PRIMARY" -P -t $topic -K '\t' -z lz4 -H source=bench -X linger.ms=20 -X batch.num.messages=10000
# Every record must still be there: the mock's 5 MiB per partition must not have dropped any.
total=$(kcat -b "$SYNCD_KAFKA_PRIMARY" -C -t $topic -e -q -f 'x\n' | wc -l)
[ "$total" -eq "$RECORDS" ] || { echo "the source topic holds $total records, not $RECORDS (mock retention?)" >&2; exit 2; }

floor() { # seconds for kcat to read the whole source topic
  local start; start=$(now)
  kcat -b "$SYNCD_KAFKA_PRIMARY" -C -t $topic -e -q -o beginning -f '%o\n' >/dev/null
  echo "$(now) - $start" | bc -l
}

cat > "$STATE/bench-kafka.yaml" <<YAML
listen: 127.0.0.1:8492
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-kafka.sqlite
sources:
  - name: bench
    kind: kafka
    mode: mirror
    topics: [$topic]
    primary: {bootstrap: "$SYNCD_KAFKA_PRIMARY"}
    dr: {bootstrap: "$SYNCD_KAFKA_DR"}
YAML
rm -f "$STATE/journal-kafka.sqlite"*

# The mirror: from syncd's start until a drain (every source record acknowledged on the DR side) returns.
start=$(now)
BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncd" --config "$STATE/bench-kafka.yaml" --log-level warning >"$STATE/syncd-kafka.log" 2>&1 &
SYNCD_PID=$!
for _ in $(seq 100); do curl -fsS http://127.0.0.1:8492/healthz >/dev/null 2>&1 && break; sleep 0.05; done
SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" drain --server http://127.0.0.1:8492 --source bench --timeout 600s >/dev/null
mirror_seconds=$(echo "$(now) - $start" | bc -l)

verify() { # prints "seconds primary_records differing" from the check's own result
  # Progress lines (stderr) go to a log: the table shows figures only.
  SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" verify --server http://127.0.0.1:8492 --source bench --full-diff --json 2>>"$STATE/verify-progress.log" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.3f %d %d" % (r["duration_seconds"], r["primary_rows"], r["missing"]+r["extra"]+r["changed"]))'
}
floors=(); checks=()
for _ in 1 2 3; do
  floors+=("$(floor)")
  read -r t checked found < <(verify); checks+=("$t")
done
rss=$(( $(awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status") / 1024 ))
f=$(best "${floors[@]}"); c=$(best "${checks[@]}")

printf '\n%-9s %-11s %15s %15s %15s %9s %9s %6s %16s\n' records partitions "floor rec/s" "mirror rec/s" "check rec/s" "mirror" "check" found "syncd peak RSS"
printf '%-9s %-11s %15s %15s %15s %9s %9s %6s %12s MiB\n' "$RECORDS" "$PARTITIONS" "$(rate "$RECORDS" "$f")" "$(rate "$RECORDS" "$mirror_seconds")" \
  "$(rate "$checked" "$c")" "$(echo "100 * $f / $mirror_seconds" | bc -l | xargs printf '%.0f%%')" "$(echo "100 * $f / $c" | bc -l | xargs printf '%.0f%%')" "$found" "$rss"
echo
echo "floor:  kcat -C -e reading the source topic from the beginning (one librdkafka consumer, no output formatting cost to speak of)."
echo "mirror: syncd's built-in mirror, from syncd's start until 'syncctl drain' confirms every record is acknowledged on the DR side."
echo "check:  syncctl verify --full-diff; records/s = source records compared / the check's own duration (it reads both clusters,"
echo "        in parallel, and digests every record's timestamp, key, value and headers). Targets: check >= 50 %, mirror >= 30 % of the floor."
echo "found:  differences reported (expected 0)."
