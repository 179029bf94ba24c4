#!/usr/bin/env bash
# How long one poll (`sample()`) of a Kafka source takes as its topic grows to many partitions,
# beside the same command on a 1-partition topic measured in the same run (the process's own
# start-up and one poll of a trivial topic). `syncctl --config FILE status` takes one fresh sample
# of every source in-process; the difference to the reference is the poll of the big topic.
# Two librdkafka mock clusters of their own (integration/kafka.sh with its own state), stopped at
# the end. Median (min-max) of RUNS runs (default 5), big and reference alternating; CPU steal.
# Usage: integration/bench-kafka-sample.sh [PARTITIONS]     (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
PARTITIONS=${1:-1000}
RUNS=${RUNS:-5}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"
export SYNCD_KAFKA_DIR=/var/tmp/syncd-kafka-sample-bench

bash integration/install-deps.sh >/dev/null
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)
trap 'bash integration/kafka.sh stop' EXIT
bash integration/kafka.sh stop
bash integration/kafka.sh start >/dev/null
eval "$(bash integration/kafka.sh env)"
for side in primary dr; do
  bash integration/kafka.sh create $side wide $PARTITIONS
  bash integration/kafka.sh create $side narrow 1
done
# A record in every partition, so each has offsets to report.
seq 1 "$PARTITIONS" | awk -v p="$PARTITIONS" '{print "k" $1 ":v" $1}' | kcat -b "$SYNCD_KAFKA_PRIMARY" -P -t wide -K: -p -1 2>/dev/null || true

config() { # topic -> config file
  cat > "$STATE/kafka-sample-$1.yaml" <<YAML
listen: 127.0.0.1:8493
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-kafka-sample-$1.sqlite
sources:
  - name: events
    kind: kafka
    mode: mirrormaker2
    topics: [$1]
    replication_policy: identity
    primary: {bootstrap: "$SYNCD_KAFKA_PRIMARY"}
    dr: {bootstrap: "$SYNCD_KAFKA_DR"}
YAML
  echo "$STATE/kafka-sample-$1.yaml"
}
WIDE=$(config wide)
NARROW=$(config narrow)
once() { # config -> seconds for one in-process status (one sample of every source)
  local start end
  rm -f "$STATE"/journal-kafka-sample-*.sqlite*
  start=$(date +%s.%N)
  BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" status --config "$1" --json >"$STATE/kafka-sample.out" 2>&1 \
    || { cat "$STATE/kafka-sample.out" >&2; exit 2; }
  end=$(date +%s.%N)
  grep -q "\"partitions\" : \"$2\"" "$STATE/kafka-sample.out" || { echo "the sample did not cover $2 partitions:" >&2; head -c 2000 "$STATE/kafka-sample.out" >&2; exit 2; }
  echo "$end - $start" | bc -l
}
source integration/bench-stats.sh
read -r steal0 all0 < <(steal)
wide=(); narrow=(); diffs=()
for _ in $(seq "$RUNS"); do
  w=$(once "$WIDE" "$PARTITIONS"); n=$(once "$NARROW" 1)
  # Milliseconds as seconds with three decimals, as the table prints them.
  wide+=("$(printf '%.3f' "$w")"); narrow+=("$(printf '%.3f' "$n")"); diffs+=("$(echo "$w - $n" | bc -l | xargs printf '%.3f')")
done
printf '\n%-44s %s\n' "" "median (min-max) of $RUNS runs, seconds"
printf '%-44s %.3f (%s)\n' "status with a $PARTITIONS-partition topic" "$(median "${wide[@]}")" "$(range "${wide[@]}")"
printf '%-44s %.3f (%s)\n' "reference: the same with a 1-partition topic" "$(median "${narrow[@]}")" "$(range "${narrow[@]}")"
printf '%-44s %.3f (%s)\n' "one poll of $PARTITIONS partitions (difference)" "$(median "${diffs[@]}")" "$(range "${diffs[@]}")"
steal_since "$steal0" "$all0"
