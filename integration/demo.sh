#!/usr/bin/env bash
# The local demo: installs what it needs, starts the PostgreSQL servers (a primary with a
# streaming standby, a publisher with a logical subscriber) and the Redis servers (a primary with
# a replica, and an independent DR instance), two Kafka mock clusters and two SeaweedFS (S3)
# clusters with filer.sync, builds and starts syncd on 127.0.0.1:8480 (its built-in mirror copies
# the Kafka topics, its managed copy one bucket), then shows `syncctl status`, a verification of
# each pair and the gate.
#   integration/demo.sh          start (idempotent) and show
#   integration/demo.sh --ha     the same, then two instances on a shared journal (PostgreSQL :25436)
#                                and a takeover after kill -9 of the leader
#   integration/demo.sh stop     stop syncd and the servers
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=$ROOT/.demo
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"

stop_syncd() {
  stop_pid "$STATE/syncd-west.pid"
  stop_pid "$STATE/syncd.pid"
}

stop_pid() { # pid file
  if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
    pid=$(cat "$1")
    kill -TERM "$pid"   # graceful: syncd journals its stop
    # Wait for the process to end (syncd stops within seconds); only a hung one is killed.
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: syncd (pid $pid) did not stop within 30 s of SIGTERM; killing it" >&2
      kill -KILL "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$1"
}

HA=false
[ "${1:-}" = --ha ] && HA=true
if [ "${1:-}" = stop ]; then
  stop_syncd
  bash integration/s3.sh stop
  bash integration/kafka.sh stop
  bash integration/redis.sh stop
  bash integration/pg.sh stop
  echo "demo stopped (data kept; 'integration/pg.sh reset' wipes the servers, rm -rf .demo the journal)"
  exit 0
fi

bash integration/install-deps.sh
bash integration/pg.sh start
bash integration/redis.sh start
bash integration/kafka.sh start
bash integration/s3.sh start
eval "$(bash integration/pg.sh env)"
eval "$(bash integration/redis.sh env)"
eval "$(bash integration/kafka.sh env)"
eval "$(bash integration/s3.sh env)"
# Objects: a few under demo/ in the bucket filer.sync replicates, and a bucket for syncd's managed copy.
s3put() { curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$SYNCD_S3_ACCESS:$SYNCD_S3_SECRET" -o /dev/null "$@"; }
bash integration/s3.sh bucket primary media
bash integration/s3.sh bucket dr media-dr
for n in 1 2 3; do
  echo "report $n" | s3put -T - "$SYNCD_S3_PRIMARY/replicated/demo/report-$n.txt"
  head -c $((n * 40000)) /dev/urandom | s3put -T - "$SYNCD_S3_PRIMARY/media/photos/photo-$n.jpg"
done
# Kafka topics on both clusters (the mock cluster has no CreateTopics API) and some records.
for side in primary dr; do
  for topic in orders payments; do
    bash integration/kafka.sh create "$side" "$topic" 3 2>&1 | grep -v "already exists" >&2 || true
  done
done
for n in $(seq 1 30); do echo "order-$n:{\"id\":$n,\"amount\":$((n * 7))}"; done |
  kcat -b "$SYNCD_KAFKA_PRIMARY" -P -t orders -K: -H source=demo
for n in $(seq 1 12); do echo "pay-$n:{\"order\":$n}"; done | kcat -b "$SYNCD_KAFKA_PRIMARY" -P -t payments -K:
# Some Redis data of every type (idempotent), in databases 0 and 1.
REDISCLI_AUTH=$SYNCD_REDIS_PASSWORD redis-cli -p "$SYNCD_REDIS_PRIMARY_PORT" --no-auth-warning >/dev/null <<'REDIS'
SET demo:greeting hello
SET demo:session:42 active EX 86400
HSET demo:user:1 name ada lang en
RPUSH demo:queue job-1 job-2 job-3
SADD demo:tags dr cutover verify
ZADD demo:leaderboard 10 alice 7 bob
XADD demo:events * type login user ada
SELECT 1
SET demo:db1:counter 1
REDIS
echo "building syncd and syncctl (the first build takes several minutes)..."
for product in syncd syncctl; do
  swift build --product "$product" >"$STATE.build.log" 2>&1 || { cat "$STATE.build.log" >&2; exit 2; }
done
rm -f "$STATE.build.log"
BIN=$(swift build --show-bin-path)

mkdir -p "$STATE"
# The mock clusters' ports change with every start: the demo runs a copy of config/demo.yaml
# with them filled in (relative paths in it resolve the same from .demo/).
# The API speaks TLS with a local CA's certificate (integration/certs.sh); syncctl trusts that CA.
bash integration/certs.sh make "$STATE/certs"
sed -e "s|@KAFKA_PRIMARY@|$SYNCD_KAFKA_PRIMARY|" -e "s|@KAFKA_DR@|$SYNCD_KAFKA_DR|" config/demo.yaml > "$STATE/demo.yaml"
if [ ! -f "$STATE/tokens.env" ]; then
  umask 077
  cat > "$STATE/tokens.env" <<ENV
export SYNCD_READ_TOKEN=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
export SYNCD_ADMIN_TOKEN=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
ENV
fi
# shellcheck disable=SC1091
source "$STATE/tokens.env"

stop_syncd
if curl -fsS --cacert "$STATE/certs/ca.pem" https://127.0.0.1:8480/healthz >/dev/null 2>&1 || curl -fsS http://127.0.0.1:8480/healthz >/dev/null 2>&1; then
  echo "demo: port 8480 is already served by another process (an earlier syncd whose pid file is gone?); stop it first, e.g. pkill -f 'syncd --config'" >&2
  exit 2
fi
"$BIN/syncd" --config "$STATE/demo.yaml" >>"$STATE/syncd.log" 2>&1 &
echo $! > "$STATE/syncd.pid"
for _ in $(seq 100); do
  curl -fsS --cacert "$STATE/certs/ca.pem" https://127.0.0.1:8480/healthz >/dev/null 2>&1 && break
  kill -0 "$(cat "$STATE/syncd.pid")" 2>/dev/null || { tail -20 "$STATE/syncd.log" >&2; echo "syncd did not start" >&2; exit 2; }
  sleep 0.1
done
kill -0 "$(cat "$STATE/syncd.pid")" 2>/dev/null || { tail -20 "$STATE/syncd.log" >&2; echo "syncd exited" >&2; exit 2; }
sleep 2   # a couple of polls

export SYNCD_SERVER=https://127.0.0.1:8480 SYNCD_CACERT=$STATE/certs/ca.pem
echo
echo "\$ syncctl status"
SYNCD_TOKEN=$SYNCD_READ_TOKEN "$BIN/syncctl" status
echo
echo
echo "\$ syncctl resync --source redis-dr      # syncd's own copy into the independent Redis DR instance"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" resync --source redis-dr
echo
echo "\$ syncctl drain --source kafka-events --timeout 30s   # the built-in mirror has copied every record"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" drain --source kafka-events --timeout 30s
echo
echo "\$ syncctl drain --source s3-media --timeout 60s       # syncd's managed copy has copied every object"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" drain --source s3-media --timeout 60s
echo
echo "\$ syncctl verify --source pg-logical          # one source's check, with every table"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" verify --source pg-logical || true
echo
echo "\$ psql -p 25434 -c \"SELECT nextval('events_id_seq')\"   # the publisher hands out an id; logical replication does not copy sequences"
PGPASSWORD=$SYNCD_PG_PASSWORD psql -X -q -h 127.0.0.1 -p "$SYNCD_PG_PUBLISHER_PORT" -U syncd -d appdb -tAc "SELECT nextval('events_id_seq')"
echo "\$ syncctl verify --source pg-logical          # rows equal, but the DR sequence is behind: the gate fails on it"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" verify --source pg-logical || true
echo "\$ syncctl reconcile --source pg-logical --apply && syncctl verify --source pg-logical   # moves the DR sequence up"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" reconcile --source pg-logical --apply || true
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" verify --source pg-logical || true
echo
echo "\$ syncctl cutover --plan config/cutover-plan.yaml --report .demo/cutover.md   # drain, verify and gate all seven sources, journaled"
set +e
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" cutover --plan config/cutover-plan.yaml --report "$STATE/cutover.md"
code=$?
set -e
echo "(exit code $code: 0 pass, 1 fail, 2 error)"
echo
echo "\$ syncctl cutover verify-report .demo/cutover.md   # is this file the report the journal holds?"
SYNCD_TOKEN=$SYNCD_READ_TOKEN "$BIN/syncctl" cutover verify-report "$STATE/cutover.md" || true
echo
echo "\$ syncctl pause --source pg-physical && syncctl cutover --drill --plan config/cutover-plan.yaml   # the standby's replay paused"
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" pause --source pg-physical >/dev/null
set +e
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" cutover --drill --plan config/cutover-plan.yaml
code=$?
set -e
SYNCD_TOKEN=$SYNCD_ADMIN_TOKEN "$BIN/syncctl" resume --source pg-physical >/dev/null
echo "(exit code $code: the drill fails on pg-physical, whose replay was paused; the standby is resumed again)"
if $HA; then
  echo
  echo "=== two instances, one shared journal (PostgreSQL on :25436, database syncd_demo) ==="
  stop_syncd
  PGPASSWORD=$SYNCD_PG_PASSWORD psql -X -q -h 127.0.0.1 -p "$SYNCD_PG_JOURNAL_PORT" -U syncd -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'syncd_demo'" | grep -q 1 \
    || PGPASSWORD=$SYNCD_PG_PASSWORD psql -X -q -h 127.0.0.1 -p "$SYNCD_PG_JOURNAL_PORT" -U syncd -d postgres -c "CREATE DATABASE syncd_demo"
  for spec in "east site-a 8480" "west site-b 8481"; do
    set -- $spec
    sed -e "s|^journal: .*|journal: {postgres: {host: 127.0.0.1, port: $SYNCD_PG_JOURNAL_PORT, user: syncd, password: {env: SYNCD_PG_PASSWORD}, database: syncd_demo}}\ninstance: {id: $1, site: $2, url: \"https://127.0.0.1:$3\", ca: certs/ca.pem}\nlease_ttl: 4s|" \
        -e "s|^listen: .*|listen: 127.0.0.1:$3|" "$STATE/demo.yaml" > "$STATE/$1.yaml"
  done
  "$BIN/syncd" --config "$STATE/east.yaml" >>"$STATE/syncd.log" 2>&1 &
  echo $! > "$STATE/syncd.pid"
  sleep 2
  "$BIN/syncd" --config "$STATE/west.yaml" >>"$STATE/syncd-west.log" 2>&1 &
  echo $! > "$STATE/syncd-west.pid"
  sleep 4
  echo "\$ syncctl status --server https://127.0.0.1:8481     # asked of west: east leads"
  SYNCD_TOKEN=$SYNCD_READ_TOKEN "$BIN/syncctl" status --server https://127.0.0.1:8481 | tail -4
  echo
  echo "\$ kill -9 <east>; sleep 8; syncctl status --server https://127.0.0.1:8481   # west takes over within the lease"
  kill -9 "$(cat "$STATE/syncd.pid")"; rm -f "$STATE/syncd.pid"
  sleep 8
  SYNCD_TOKEN=$SYNCD_READ_TOKEN "$BIN/syncctl" status --server https://127.0.0.1:8481 | tail -4
  export SYNCD_SERVER=https://127.0.0.1:8481
fi

PIDFILE=$STATE/syncd.pid LOGFILE=$STATE/syncd.log
$HA && PIDFILE=$STATE/syncd-west.pid LOGFILE=$STATE/syncd-west.log
cat <<MSG

syncd is running (pid $(cat "$PIDFILE"), log $LOGFILE). Try:
  source .demo/tokens.env; export SYNCD_SERVER=$SYNCD_SERVER SYNCD_CACERT=$STATE/certs/ca.pem
  SYNCD_TOKEN=\$SYNCD_ADMIN_TOKEN $BIN/syncctl pause --source pg-physical
  SYNCD_TOKEN=\$SYNCD_ADMIN_TOKEN $BIN/syncctl resume --source pg-physical
  SYNCD_TOKEN=\$SYNCD_ADMIN_TOKEN $BIN/syncctl drain --source pg-physical --timeout 30s
  SYNCD_TOKEN=\$SYNCD_ADMIN_TOKEN $BIN/syncctl verify --source pg-logical --json
  SYNCD_TOKEN=\$SYNCD_READ_TOKEN  $BIN/syncctl journal

Status page: $SYNCD_SERVER/  (the browser warns about the demo's own CA: trust $STATE/certs/ca.pem,
or accept the warning for this local demo). Sign in with the read token:
  $SYNCD_READ_TOKEN
(it is in .demo/tokens.env as SYNCD_READ_TOKEN; the page is read-only: sessions last 8 h, Sign out ends one)
Stop everything with: integration/demo.sh stop
MSG
