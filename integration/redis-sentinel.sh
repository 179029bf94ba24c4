#!/usr/bin/env bash
# A Sentinel-managed Redis 7 group for tests and the demo, on 127.0.0.1 only:
#   master :26390   HA replica :26391   DR replica :26392 (replica-priority 0: never promoted)
#   three sentinels :26395 :26396 :26397 watching master name 'syncd-ha' (quorum 2)
# The data servers take the password of integration/redis.sh (user syncd too); the sentinels
# require their own password. No persistence. A failover moves the master between :26390 and
# :26391; the sentinels re-point the DR replica and the demoted master at the new one.
# Usage: integration/redis-sentinel.sh start|stop|status|env|reset|failover|master
set -euo pipefail

BASE=${SYNCD_SENTINEL_DIR:-/var/tmp/syncd-sentinel}
HOST=127.0.0.1
PASSWORD=${SYNCD_REDIS_PASSWORD:-syncd-demo-password}
SENTINEL_PASSWORD=${SYNCD_SENTINEL_PASSWORD:-syncd-sentinel-password}
NAME=syncd-ha
declare -A PORT=([master]=26390 [replica]=26391 [dr]=26392)
SENTINELS=(26395 26396 26397)

die() { echo "redis-sentinel.sh: $*" >&2; exit 1; }
cli() { local port=$1; shift; REDISCLI_AUTH="$PASSWORD" redis-cli -h "$HOST" -p "$port" --no-auth-warning "$@"; }
scli() { local port=$1; shift; REDISCLI_AUTH="$SENTINEL_PASSWORD" redis-cli -h "$HOST" -p "$port" --no-auth-warning "$@"; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_ping() {
  local port=$1 client=$2
  for _ in $(seq 1 50); do "$client" "$port" PING >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "the server on :$port did not start (logs under $BASE)"
}
sentinel_binary() {
  if command -v redis-sentinel >/dev/null; then echo redis-sentinel; else echo "redis-server --sentinel"; fi
}

start_data() {
  local node=$1 port=${PORT[$1]}
  running "$BASE/$node/redis.pid" && return 0
  mkdir -p "$BASE/$node"
  local extra=(--masterauth "$PASSWORD")
  [ "$node" != master ] && extra+=(--replicaof "$HOST" "${PORT[master]}")
  [ "$node" = dr ] && extra+=(--replica-priority 0)
  redis-server --bind "$HOST" --port "$port" --protected-mode yes --daemonize yes \
    --dir "$BASE/$node" --pidfile "$BASE/$node/redis.pid" --logfile "$BASE/$node/redis.log" \
    --save "" --appendonly no --requirepass "$PASSWORD" --repl-diskless-sync-delay 0 "${extra[@]}"
  wait_ping "$port" cli
  cli "$port" ACL SETUSER syncd on ">$PASSWORD" '~*' '&*' +@all >/dev/null
}

start_sentinel() {
  local port=$1 dir="$BASE/sentinel-$1"
  running "$dir/sentinel.pid" && return 0
  mkdir -p "$dir"
  # Sentinel rewrites its file as it learns the group: a fresh one each start.
  cat >"$dir/sentinel.conf" <<EOF
bind $HOST
port $port
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
requirepass $SENTINEL_PASSWORD
sentinel sentinel-pass $SENTINEL_PASSWORD
sentinel monitor $NAME $HOST ${PORT[master]} 2
sentinel auth-pass $NAME $PASSWORD
sentinel down-after-milliseconds $NAME 2000
sentinel failover-timeout $NAME 10000
sentinel parallel-syncs $NAME 2
EOF
  $(sentinel_binary) "$dir/sentinel.conf"
  wait_ping "$port" scli
}

stop_pidfile() {
  local file=$1
  running "$file" || return 0
  local pid; pid=$(cat "$file")
  kill -CONT "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$file"
}

master_port() { scli "${SENTINELS[0]}" SENTINEL get-master-addr-by-name "$NAME" | sed -n 2p; }

# Every sentinel knows both replicas and the other sentinels, and the replicas are attached.
wait_settled() {
  for _ in $(seq 1 150); do
    local ok=1 master; master=$(master_port)
    for port in "${SENTINELS[@]}"; do
      local info; info=$(scli "$port" SENTINEL master "$NAME" 2>/dev/null | paste - - ) || { ok=0; break; }
      echo "$info" | grep -q $'^num-slaves\t2$' || ok=0
      echo "$info" | grep -q $'^num-other-sentinels\t2$' || ok=0
      echo "$info" | grep -q $'^flags\tmaster$' || ok=0
      [ "$(scli "$port" SENTINEL get-master-addr-by-name "$NAME" | sed -n 2p)" = "$master" ] || ok=0
    done
    [ "$(cli "$master" INFO replication | grep -c '^slave[0-9]*:.*state=online')" = 2 ] || ok=0
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  die "the sentinel group did not settle (logs under $BASE)"
}

case "${1:-}" in
  start)
    command -v redis-server >/dev/null || die "redis-server is not installed (integration/install-deps.sh installs it)"
    for node in master replica dr; do start_data "$node"; done
    for port in "${SENTINELS[@]}"; do start_sentinel "$port"; done
    wait_settled
    echo "sentinel: master name $NAME at :$(master_port), replicas :${PORT[replica]} and DR :${PORT[dr]}; sentinels :${SENTINELS[*]}"
    ;;
  stop)
    for port in "${SENTINELS[@]}"; do stop_pidfile "$BASE/sentinel-$port/sentinel.pid"; done
    for node in dr replica master; do stop_pidfile "$BASE/$node/redis.pid"; done
    ;;
  status)
    for node in master replica dr; do
      running "$BASE/$node/redis.pid" && echo "$node :${PORT[$node]} running" || echo "$node :${PORT[$node]} stopped"
    done
    for port in "${SENTINELS[@]}"; do
      running "$BASE/sentinel-$port/sentinel.pid" && echo "sentinel :$port running" || echo "sentinel :$port stopped"
    done
    ;;
  env)
    echo "export SYNCD_SENTINELS=$(IFS=,; echo "${SENTINELS[*]/#/$HOST:}") SYNCD_SENTINEL_MASTER=$NAME SYNCD_SENTINEL_PASSWORD=$SENTINEL_PASSWORD SYNCD_SENTINEL_DR_PORT=${PORT[dr]}"
    ;;
  master) master_port ;;
  reset)
    # Empty data on the current master, every replica attached and every sentinel in agreement.
    wait_settled
    cli "$(master_port)" FLUSHALL >/dev/null
    ;;
  failover)
    # What an operator's SENTINEL FAILOVER does: promote the HA replica, demote the master.
    wait_settled
    before=$(master_port)
    scli "${SENTINELS[0]}" SENTINEL FAILOVER "$NAME" >/dev/null
    for _ in $(seq 1 150); do [ "$(master_port)" != "$before" ] && break; sleep 0.1; done
    [ "$(master_port)" != "$before" ] || die "the failover did not move the master off :$before"
    [ "${2:-}" = --no-wait ] || wait_settled
    echo "master moved from :$before to :$(master_port)"
    ;;
  *) die "usage: redis-sentinel.sh start|stop|status|env|reset|failover [--no-wait]|master" ;;
esac
