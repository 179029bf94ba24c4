#!/usr/bin/env bash
# Starts/stops two Kafka clusters (source "primary" and "dr") made by librdkafka's mock cluster
# (integration/kafka-mock.c, built here with gcc): real Kafka-protocol brokers on 127.0.0.1,
# in memory, on ports the kernel picks, one process each. Each partition keeps its last 5 MiB (the mock's fixed
# retention), which the tests and the benchmark stay under or use on purpose.
# Usage: integration/kafka.sh start|stop|status|env
#        integration/kafka.sh create primary|dr TOPIC PARTITIONS   (the mock has no CreateTopics API)
#        integration/kafka.sh down|up primary|dr                   (a broker refusing connections)
#        integration/kafka.sh freeze|thaw primary|dr               (SIGSTOP/SIGCONT: a hung host)
#        integration/kafka.sh bootstrap primary|dr
# SYNCD_KAFKA_DIR runs a second, separate pair (the benchmark does).
set -euo pipefail

BASE=${SYNCD_KAFKA_DIR:-/var/tmp/syncd-kafka}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$BASE/kafka-mock

die() { echo "kafka.sh: $*" >&2; exit 1; }
side_running() { [ -f "$BASE/$1.pid" ] && kill -0 "$(cat "$BASE/$1.pid")" 2>/dev/null; }
running() { side_running primary && side_running dr; }
check_side() { [ "$1" = primary ] || [ "$1" = dr ] || die "expected primary or dr, got '$1'"; }

# command_line SIDE WORDS...
command_line() {
  local side=$1; shift
  check_side "$side"
  side_running "$side" || die "the $side mock cluster is not running (integration/kafka.sh start)"
  # One command at a time: the reply FIFO has a single reader.
  exec 9>"$BASE/$side.lock"
  flock 9
  echo "$*" > "$BASE/$side.control"
  local answer; answer=$(timeout 10 cat "$BASE/$side.reply") || die "no answer from the $side kafka-mock to '$*'"
  [ "$answer" = ok ] || die "$* on $side failed: $answer"
}

stop_side() {
  if side_running "$1"; then
    local pid; pid=$(cat "$BASE/$1.pid")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$BASE/$1.pid" "$BASE/$1.bootstrap" "$BASE/$1.control" "$BASE/$1.reply"
}

case "${1:-}" in
  start)
    running && exit 0
    command -v gcc >/dev/null || die "gcc is not installed"
    pkg-config --exists rdkafka || die "librdkafka-dev is not installed (integration/install-deps.sh installs it)"
    mkdir -p "$BASE"
    # An older layout ran both clusters in one process.
    if [ -f "$BASE/pid" ]; then kill "$(cat "$BASE/pid")" 2>/dev/null || true; rm -f "$BASE/pid" "$BASE/control" "$BASE/reply"; fi
    if [ ! -x "$BIN" ] || [ "$HERE/kafka-mock.c" -nt "$BIN" ]; then
      gcc -O2 -Wall -o "$BIN" "$HERE/kafka-mock.c" $(pkg-config --cflags --libs rdkafka) || die "cannot build kafka-mock"
    fi
    for side in primary dr; do
      side_running "$side" && continue
      rm -f "$BASE/$side.bootstrap" "$BASE/$side.control" "$BASE/$side.reply"
      mkfifo "$BASE/$side.control" "$BASE/$side.reply"
      setsid "$BIN" "$BASE" "$side" >"$BASE/kafka-mock-$side.log" 2>&1 < /dev/null &
      echo $! > "$BASE/$side.pid"
    done
    for _ in $(seq 1 100); do
      [ -s "$BASE/primary.bootstrap" ] && [ -s "$BASE/dr.bootstrap" ] && break
      sleep 0.05
    done
    [ -s "$BASE/primary.bootstrap" ] && [ -s "$BASE/dr.bootstrap" ] || die "kafka-mock did not start (see $BASE/kafka-mock-*.log)"
    echo "kafka: primary $(cat "$BASE/primary.bootstrap"), dr $(cat "$BASE/dr.bootstrap") (librdkafka mock clusters)"
    ;;
  stop)
    stop_side primary
    stop_side dr
    ;;
  status)
    if running; then echo "kafka-mock running: primary $(cat "$BASE/primary.bootstrap"), dr $(cat "$BASE/dr.bootstrap")"; else echo "kafka-mock stopped"; fi
    ;;
  env)
    running || die "the mock clusters are not running"
    echo "export SYNCD_KAFKA_PRIMARY=$(cat "$BASE/primary.bootstrap")"
    echo "export SYNCD_KAFKA_DR=$(cat "$BASE/dr.bootstrap")"
    ;;
  bootstrap)
    running || die "the mock clusters are not running"
    cat "$BASE/${2:?primary or dr}.bootstrap"
    ;;
  create)
    [ $# -eq 4 ] || die "usage: kafka.sh create primary|dr TOPIC PARTITIONS"
    command_line "$2" create "$3" "$4"
    ;;
  down|up)
    [ $# -eq 2 ] || die "usage: kafka.sh $1 primary|dr"
    command_line "$2" "$1"
    ;;
  freeze|thaw)
    [ $# -eq 2 ] || die "usage: kafka.sh $1 primary|dr"
    check_side "$2"
    side_running "$2" || die "the $2 mock cluster is not running"
    kill "-$([ "$1" = freeze ] && echo STOP || echo CONT)" "$(cat "$BASE/$2.pid")"
    ;;
  *) die "usage: kafka.sh start|stop|status|env|bootstrap SIDE|create SIDE TOPIC PARTITIONS|down|up|freeze|thaw SIDE" ;;
esac
