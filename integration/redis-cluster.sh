#!/usr/bin/env bash
# Two Redis 7 clusters for tests and the demo, on 127.0.0.1 only, each of three masters with one
# replica (redis-cli --cluster create):
#   source :27001-27006    dr :27101-27106    (cluster bus: port - 10000, i.e. :17001-17006 and
#   :17101-17106; Redis's default, port + 10000, lies in Linux's ephemeral range 32768-60999, where an
#   outgoing connection's local port can take it and the node cannot start)
# Redis has no replication between clusters: a pair with a cluster side is mode: independent.
# Password and user syncd as in integration/redis.sh. No persistence.
# Usage: integration/redis-cluster.sh start|stop|status|env|reset
#        integration/redis-cluster.sh stop-node|start-node|freeze|thaw CLUSTER PORT
#        integration/redis-cluster.sh migrate-slot CLUSTER SLOT   (moves one slot to another master)
set -euo pipefail

BASE=${SYNCD_CLUSTER_DIR:-/var/tmp/syncd-cluster}
HOST=127.0.0.1
PASSWORD=${SYNCD_REDIS_PASSWORD:-syncd-demo-password}
declare -A FIRST=([source]=${SYNCD_CLUSTER_SOURCE_BASE:-27001} [dr]=${SYNCD_CLUSTER_DR_BASE:-27101})

die() { echo "redis-cluster.sh: $*" >&2; exit 1; }
cli() { local port=$1; shift; REDISCLI_AUTH="$PASSWORD" redis-cli -h "$HOST" -p "$port" --no-auth-warning "$@"; }
ports() { local first=${FIRST[$1]:-}; [ -n "$first" ] || die "unknown cluster '$1' (source or dr)"; seq "$first" $((first + 5)); }
pidfile() { echo "$BASE/$1/redis.pid"; }
running() { [ -f "$(pidfile "$1")" ] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

start_node() {
  local port=$1
  running "$port" && return 0
  # nodes.conf keeps the node's cluster membership: a node restarted by start-node rejoins.
  mkdir -p "$BASE/$port"
  redis-server --bind "$HOST" --port "$port" --protected-mode yes --daemonize yes \
    --dir "$BASE/$port" --pidfile "$(pidfile "$port")" --logfile "$BASE/$port/redis.log" \
    --save "" --appendonly no --requirepass "$PASSWORD" --masterauth "$PASSWORD" \
    --cluster-enabled yes --cluster-port $((port - 10000)) --cluster-config-file "$BASE/$port/nodes.conf" --cluster-node-timeout 2000 \
    --cluster-require-full-coverage no --repl-diskless-sync-delay 0
  for _ in $(seq 1 50); do cli "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
  cli "$port" PING >/dev/null 2>&1 || die "node :$port did not start (see $BASE/$port/redis.log)"
  cli "$port" ACL SETUSER syncd on ">$PASSWORD" '~*' '&*' +@all >/dev/null
}

stop_node() {
  local port=$1
  running "$port" || return 0
  local pid; pid=$(cat "$(pidfile "$port")")
  kill -CONT "$pid" 2>/dev/null || true
  cli "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(pidfile "$port")"
}

wait_ok() {
  # Every node must agree: cluster_state ok, six connected nodes, three replicas, no node flagged
  # failing (a node that was stopped and restarted can still be marked fail? for a while).
  local cluster=$1
  for _ in $(seq 1 300); do
    local ok=1
    for port in $(ports "$cluster"); do
      cli "$port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
      local nodes; nodes=$(cli "$port" CLUSTER NODES)
      [ "$(echo "$nodes" | awk '$8 == "connected"' | wc -l)" = 6 ] && [ "$(echo "$nodes" | awk '$3 ~ /slave/' | wc -l)" = 3 ] \
        && [ "$(echo "$nodes" | awk '$3 ~ /fail/' | wc -l)" = 0 ] || { ok=0; break; }
      if cli "$port" INFO replication | grep -q '^role:slave'; then
        cli "$port" INFO replication | grep -q '^master_link_status:up' || { ok=0; break; }
      fi
    done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  die "cluster $cluster did not reach cluster_state:ok with three masters and three replicas"
}

create() {
  local cluster=$1 first=${FIRST[$1]}
  for port in $(ports "$cluster"); do start_node "$port"; done
  if ! cli "$first" CLUSTER INFO | grep -q '^cluster_state:ok'; then
    local addresses=(); for port in $(ports "$cluster"); do addresses+=("$HOST:$port"); done
    REDISCLI_AUTH="$PASSWORD" redis-cli --no-auth-warning --cluster create "${addresses[@]}" \
      --cluster-replicas 1 --cluster-yes >"$BASE/create-$cluster.log" 2>&1 \
      || die "redis-cli --cluster create failed for $cluster (see $BASE/create-$cluster.log)"
  fi
  wait_ok "$cluster"
}

case "${1:-}" in
  start)
    command -v redis-server >/dev/null || die "redis-server is not installed (integration/install-deps.sh installs it)"
    mkdir -p "$BASE"
    create source
    create dr
    echo "clusters: source :${FIRST[source]}-$((FIRST[source] + 5)), dr :${FIRST[dr]}-$((FIRST[dr] + 5)) (3 masters, 1 replica each; user syncd)"
    ;;
  stop)
    for cluster in source dr; do for port in $(ports "$cluster"); do stop_node "$port"; done; done
    # No persistence: the next start creates both clusters afresh.
    rm -f "$BASE"/*/nodes.conf
    ;;
  status)
    for cluster in source dr; do
      for port in $(ports "$cluster"); do running "$port" && echo "$cluster :$port running" || echo "$cluster :$port stopped"; done
    done
    ;;
  env)
    echo "export SYNCD_CLUSTER_SOURCE_PORT=${FIRST[source]} SYNCD_CLUSTER_DR_PORT=${FIRST[dr]}"
    ;;
  reset)
    # Both clusters healthy and empty: every stopped or frozen node back, every master flushed.
    for cluster in source dr; do
      for port in $(ports "$cluster"); do
        if running "$port"; then kill -CONT "$(cat "$(pidfile "$port")")" 2>/dev/null || true; else start_node "$port"; fi
      done
      wait_ok "$cluster"
      for port in $(ports "$cluster"); do
        if cli "$port" INFO replication | grep -q '^role:master'; then cli "$port" FLUSHALL >/dev/null; fi
      done
    done
    ;;
  stop-node) stop_node "${3:?port}" ;;
  start-node) start_node "${3:?port}" ;;
  freeze) if running "${3:?port}"; then kill -STOP "$(cat "$(pidfile "$3")")"; fi ;;
  thaw) if running "${3:?port}"; then kill -CONT "$(cat "$(pidfile "$3")")"; fi ;;
  migrate-slot)
    # Moves SLOT with its keys to the next master, as redis-cli --cluster reshard does, one key batch at a time.
    cluster=${2:?cluster}; slot=${3:?slot}; first=${FIRST[$cluster]}
    nodes=$(cli "$first" CLUSTER NODES)
    owner_line=$(echo "$nodes" | awk -v s="$slot" '$3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1]; if ($i !~ /\[/ && s >= r[1] && s <= r[2]) print } }')
    [ -n "$owner_line" ] || die "no master owns slot $slot"
    from_id=$(echo "$owner_line" | awk '{print $1}'); from_port=$(echo "$owner_line" | awk '{print $2}' | sed 's/.*:\([0-9]*\)@.*/\1/')
    to_line=$(echo "$nodes" | awk -v id="$from_id" '$3 ~ /master/ && $1 != id' | head -1)
    to_id=$(echo "$to_line" | awk '{print $1}'); to_port=$(echo "$to_line" | awk '{print $2}' | sed 's/.*:\([0-9]*\)@.*/\1/')
    cli "$to_port" CLUSTER SETSLOT "$slot" IMPORTING "$from_id" >/dev/null
    cli "$from_port" CLUSTER SETSLOT "$slot" MIGRATING "$to_id" >/dev/null
    while :; do
      keys=$(cli "$from_port" CLUSTER GETKEYSINSLOT "$slot" 100)
      [ -z "$keys" ] && break
      # shellcheck disable=SC2086
      cli "$from_port" MIGRATE "$HOST" "$to_port" "" 0 5000 AUTH2 syncd "$PASSWORD" KEYS $keys >/dev/null
      [ -n "${SYNCD_MIGRATE_PAUSE:-}" ] && sleep "$SYNCD_MIGRATE_PAUSE"
    done
    for port in $(ports "$cluster"); do cli "$port" CLUSTER SETSLOT "$slot" NODE "$to_id" >/dev/null 2>&1 || true; done
    echo "slot $slot moved from :$from_port to :$to_port"
    ;;
  *) die "usage: redis-cluster.sh start|stop|status|env|reset | stop-node|start-node|freeze|thaw CLUSTER PORT | migrate-slot CLUSTER SLOT" ;;
esac
