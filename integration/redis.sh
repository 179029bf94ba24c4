#!/usr/bin/env bash
# Starts/stops the Redis 7 test and demo servers, on 127.0.0.1 only:
#   primary :26379   replica :26380 (REPLICAOF the primary)   independent DR :26381 (a writable master)
# Every server requires a password: the ACL user syncd and the default user share it; the replica
# authenticates to the primary with masterauth. No persistence: data lives in memory only.
# SYNCD_REDIS_DIR and SYNCD_REDIS_PORT_BASE run a second, separate set (the benchmark does).
# Usage: integration/redis.sh start|stop|status|env|reset   |  start|stop|freeze|thaw NODE
#   (NODE: primary replica independent; freeze/thaw SIGSTOP/SIGCONT a server, a hung host for tests)
set -euo pipefail

BASE=${SYNCD_REDIS_DIR:-/var/tmp/syncd-redis}
HOST=127.0.0.1
PASSWORD=${SYNCD_REDIS_PASSWORD:-syncd-demo-password}
BASE_PORT=${SYNCD_REDIS_PORT_BASE:-26379}
declare -A PORT=([primary]=$BASE_PORT [replica]=$((BASE_PORT + 1)) [independent]=$((BASE_PORT + 2)))
NODES=(primary replica independent)

die() { echo "redis.sh: $*" >&2; exit 1; }
cli() { local node=$1; shift; REDISCLI_AUTH="$PASSWORD" redis-cli -h "$HOST" -p "${PORT[$node]}" --no-auth-warning "$@"; }
pidfile() { echo "$BASE/$1/redis.pid"; }
running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

start_node() {
  local node=$1 port=${PORT[$1]}
  [ -n "$port" ] || die "unknown node '$node' (known: ${NODES[*]})"
  running "$node" && return 0
  mkdir -p "$BASE/$node"
  local extra=()
  # The replica follows the primary; its REPLICAOF is given at start, like a redis.conf line.
  [ "$node" = replica ] && extra=(--replicaof "$HOST" "${PORT[primary]}" --masterauth "$PASSWORD")
  redis-server --bind "$HOST" --port "$port" --protected-mode yes --daemonize yes \
    --dir "$BASE/$node" --pidfile "$(pidfile "$node")" --logfile "$BASE/$node/redis.log" \
    --save "" --appendonly no --requirepass "$PASSWORD" \
    --repl-diskless-sync-delay 0 --repl-backlog-size 16mb \
    "${extra[@]}"
  for _ in $(seq 1 50); do
    cli "$node" PING >/dev/null 2>&1 && break
    sleep 0.1
  done
  cli "$node" PING >/dev/null 2>&1 || die "$node did not start (see $BASE/$node/redis.log)"
  cli "$node" ACL SETUSER syncd on ">$PASSWORD" '~*' '&*' +@all >/dev/null
}

stop_node() {
  local node=$1
  running "$node" || return 0
  local pid; pid=$(cat "$(pidfile "$node")")
  kill -CONT "$pid" 2>/dev/null || true
  cli "$node" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(pidfile "$node")"
}

wait_replica_attached() {
  for _ in $(seq 1 100); do
    if cli replica INFO replication | grep -q '^master_link_status:up' \
       && cli replica INFO replication | grep -q '^master_sync_in_progress:0'; then return 0; fi
    sleep 0.1
  done
  die "the replica did not attach to the primary (see $BASE/replica/redis.log)"
}

case "${1:-}" in
  start)
    command -v redis-server >/dev/null || die "redis-server is not installed (integration/install-deps.sh installs it)"
    if [ -n "${2:-}" ]; then start_node "$2"; exit 0; fi
    for node in "${NODES[@]}"; do start_node "$node"; done
    wait_replica_attached
    echo "redis: primary :${PORT[primary]}, replica :${PORT[replica]}, independent DR :${PORT[independent]} (user syncd)"
    ;;
  stop)
    if [ -n "${2:-}" ]; then stop_node "$2"; exit 0; fi
    for node in replica independent primary; do stop_node "$node"; done
    ;;
  freeze) running "$2" && kill -STOP "$(cat "$(pidfile "$2")")" ;;
  thaw) running "$2" && kill -CONT "$(cat "$(pidfile "$2")")" ;;
  status)
    for node in "${NODES[@]}"; do
      if running "$node"; then echo "$node :${PORT[$node]} running"; else echo "$node :${PORT[$node]} stopped"; fi
    done
    ;;
  env)
    echo "export SYNCD_REDIS_HOST=$HOST SYNCD_REDIS_USER=syncd SYNCD_REDIS_PASSWORD=$PASSWORD"
    echo "export SYNCD_REDIS_PRIMARY_PORT=${PORT[primary]} SYNCD_REDIS_REPLICA_PORT=${PORT[replica]} SYNCD_REDIS_INDEPENDENT_PORT=${PORT[independent]}"
    ;;
  reset)
    # Empty data, default encodings, the replica re-attached to the primary.
    for node in "${NODES[@]}"; do running "$node" || die "$node is not running (integration/redis.sh start)"; done
    cli replica REPLICAOF "$HOST" "${PORT[primary]}" >/dev/null
    cli replica CONFIG SET replica-read-only yes >/dev/null
    cli primary FLUSHALL >/dev/null
    cli independent FLUSHALL >/dev/null
    # Tests may change how the DR instance encodes small collections; put the defaults back.
    cli independent CONFIG SET hash-max-listpack-entries 128 set-max-intset-entries 512 >/dev/null
    wait_replica_attached
    ;;
  *) die "usage: redis.sh start|stop|status|env|reset, or start|stop|freeze|thaw NODE" ;;
esac
