#!/usr/bin/env bash
# Starts/stops the PostgreSQL 15 test and demo servers, on 127.0.0.1 only, as the postgres user:
#   primary    :25432  streaming standby :25433 (pg_basebackup -R, physical slot)
#   publisher  :25434  subscriber        :25435 (logical replication of appdb)
#   journal    :25436  a separate cluster for syncd's shared journal (several instances, one lease)
# Usage: integration/pg.sh start|stop|status|env|reset   |  start|stop NODE   (NODE: primary standby publisher subscriber journal)
#        integration/pg.sh freeze|thaw NODE   (SIGSTOP/SIGCONT the postmaster and its children: a hung host)
# Idempotent: start on running servers does nothing; data survives stop/start; reset wipes it.
set -euo pipefail

BASE=${SYNCD_PG_DIR:-/var/tmp/syncd-pg}
PGBIN=${SYNCD_PG_BIN:-/usr/lib/postgresql/15/bin}
HOST=127.0.0.1
USER_NAME=syncd
PASSWORD=${SYNCD_PG_PASSWORD:-syncd-demo-password}
DB=appdb
declare -A PORT=([primary]=25432 [standby]=25433 [publisher]=25434 [subscriber]=25435 [journal]=25436)
NODES=(primary standby publisher subscriber journal)

die() { echo "pg.sh: $*" >&2; exit 1; }

as_pg() {
  if [ "$(id -un)" = postgres ]; then "$@"
  elif [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"
  else die "run as root or as the postgres user (PostgreSQL refuses to run as root; this script switches to postgres)"; fi
}

psql_as() { # node sql...
  local node=$1; shift
  as_pg env PGPASSWORD="$PASSWORD" PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "${PORT[$node]}" -U "$USER_NAME" "$@"
}

running() { as_pg "$PGBIN/pg_ctl" -D "$BASE/$1" status >/dev/null 2>&1; }

common_conf() { # node
  cat <<CONF
listen_addresses = '$HOST'
port = ${PORT[$1]}
unix_socket_directories = '$BASE/run'
shared_buffers = 32MB
max_connections = 50
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
log_line_prefix = '%m [%p] $1 '
CONF
}

hba() {
  cat <<HBA
local all all trust
host all all $HOST/32 scram-sha-256
host replication all $HOST/32 scram-sha-256
HBA
}

init_cluster() { # node
  local dir=$BASE/$1
  [ -f "$dir/PG_VERSION" ] && return 0
  local pwfile; pwfile=$(mktemp "$BASE/run/pw.XXXX"); echo "$PASSWORD" > "$pwfile"; chown postgres "$pwfile"
  as_pg "$PGBIN/initdb" -D "$dir" -U "$USER_NAME" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  common_conf "$1" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
  hba | as_pg tee "$dir/pg_hba.conf" >/dev/null
}

start_node() { # node
  local node=$1 dir=$BASE/$1
  if running "$node"; then return 0; fi
  as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$BASE/log/$node.log" -w -t 60 start >/dev/null \
    || { tail -20 "$BASE/log/$node.log" >&2; die "$node did not start (log: $BASE/log/$node.log)"; }
}

schema_sql() {
  cat <<'SQL'
CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS events (id bigserial PRIMARY KEY, account_id bigint NOT NULL, payload text, created_at timestamptz NOT NULL DEFAULT now());
SQL
}

seed_sql() {
  echo "INSERT INTO accounts SELECT g, 'owner-' || g, g * 10.5, now() FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;"
}

setup_primary() {
  init_cluster primary
  start_node primary
  psql_as primary -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || psql_as primary -d postgres -c "CREATE DATABASE $DB"
  { schema_sql; seed_sql; } | psql_as primary -d "$DB"
}

setup_standby() {
  local dir=$BASE/standby
  if [ ! -f "$dir/PG_VERSION" ]; then
    psql_as primary -d postgres -tAc "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'standby_slot'" | grep -q 1 \
      || psql_as primary -d postgres -c "SELECT pg_create_physical_replication_slot('standby_slot')" >/dev/null
    as_pg env PGPASSWORD="$PASSWORD" "$PGBIN/pg_basebackup" -h "$HOST" -p "${PORT[primary]}" -U "$USER_NAME" \
      -D "$dir" -R -X stream -S standby_slot --checkpoint=fast
    # The standby's own settings override what was copied from the primary.
    # max_standby_streaming_delay = -1: a conflicting standby query stalls replay instead of being
    # cancelled (the tests use that to build a stalled-but-not-paused standby).
    cat <<CONF | as_pg tee -a "$dir/postgresql.auto.conf" >/dev/null
port = ${PORT[standby]}
hot_standby = on
max_standby_streaming_delay = -1
log_line_prefix = '%m [%p] standby '
CONF
  fi
  start_node standby
}

setup_logical() {
  init_cluster publisher
  init_cluster subscriber
  start_node publisher
  start_node subscriber
  for node in publisher subscriber; do
    psql_as "$node" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || psql_as "$node" -d postgres -c "CREATE DATABASE $DB"
    schema_sql | psql_as "$node" -d "$DB"
  done
  seed_sql | psql_as publisher -d "$DB"
  psql_as publisher -d "$DB" -tAc "SELECT 1 FROM pg_publication WHERE pubname = 'syncd_pub'" | grep -q 1 \
    || psql_as publisher -d "$DB" -c "CREATE PUBLICATION syncd_pub FOR TABLES IN SCHEMA public"
  if ! psql_as subscriber -d "$DB" -tAc "SELECT 1 FROM pg_subscription WHERE subname = 'syncd_sub'" | grep -q 1; then
    psql_as subscriber -d "$DB" -c "CREATE SUBSCRIPTION syncd_sub CONNECTION 'host=$HOST port=${PORT[publisher]} dbname=$DB user=$USER_NAME password=$PASSWORD' PUBLICATION syncd_pub"
  fi
  sync_sequences
}

# Logical replication does not copy sequences: the fixture starts with the subscriber's public
# sequences where the publisher's are, as an operator leaves them after the initial copy (tests
# that want one behind move the publisher's on).
sync_sequences() {
  psql_as publisher -d "$DB" -tAc "SELECT format('SELECT setval(%L, %s, true);', quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value) FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL" \
    | psql_as subscriber -d "$DB" -o /dev/null
}

setup_journal() {
  init_cluster journal
  start_node journal
  psql_as journal -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'syncd_journal'" | grep -q 1 \
    || psql_as journal -d postgres -c "CREATE DATABASE syncd_journal"
}

# The standby's primary_conninfo and the subscription name their upstream's port, so servers built
# for other ports (an older version of this script) are rebuilt rather than restarted.
LAYOUT="ports ${PORT[primary]} ${PORT[standby]} ${PORT[publisher]} ${PORT[subscriber]}"
rebuild_if_ports_changed() {
  [ -d "$BASE/primary" ] || return 0
  [ "$(cat "$BASE/layout" 2>/dev/null)" = "$LAYOUT" ] && return 0
  echo "pg.sh: the servers under $BASE were built for other ports; rebuilding them"
  "$0" stop
  for node in "${NODES[@]}"; do rm -rf "${BASE:?}/$node"; done
}

prepare_dirs() {
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PGBIN (apt-get install postgresql-15)"
  mkdir -p "$BASE/run" "$BASE/log"
  chown postgres:postgres "$BASE" "$BASE/run" "$BASE/log" 2>/dev/null || true
  chmod 755 "$BASE"
}

case "${1:-}" in
  start)
    prepare_dirs
    if [ -n "${2:-}" ]; then start_node "$2"; exit 0; fi
    rebuild_if_ports_changed
    setup_primary; setup_standby; setup_logical; setup_journal
    echo "$LAYOUT" > "$BASE/layout"
    echo "PostgreSQL test servers running under $BASE (logs in $BASE/log)" ;;
  stop)
    targets=("${@:2}"); [ ${#targets[@]} -eq 0 ] && targets=(journal subscriber publisher standby primary)
    for node in "${targets[@]}"; do
      if running "$node"; then
        # A frozen server (freeze) cannot stop.
        postmaster=$(head -1 "$BASE/$node/postmaster.pid")
        kill -CONT "$postmaster" $(pgrep -P "$postmaster" || true) 2>/dev/null || true
        as_pg "$PGBIN/pg_ctl" -D "$BASE/$node" -m fast -w stop >/dev/null
      fi
    done ;;
  freeze|thaw)
    [ -n "${2:-}" ] || die "usage: pg.sh $1 NODE"
    running "$2" || die "$2 is not running"
    postmaster=$(head -1 "$BASE/$2/postmaster.pid")
    signal=$([ "$1" = freeze ] && echo STOP || echo CONT)
    kill "-$signal" "$postmaster" $(pgrep -P "$postmaster" || true) ;;
  status)
    for node in "${NODES[@]}"; do
      if running "$node"; then echo "$node: running on $HOST:${PORT[$node]}"; else echo "$node: stopped"; fi
    done ;;
  env)
    cat <<ENV
export SYNCD_PG_HOST=$HOST
export SYNCD_PG_PRIMARY_PORT=${PORT[primary]}
export SYNCD_PG_STANDBY_PORT=${PORT[standby]}
export SYNCD_PG_PUBLISHER_PORT=${PORT[publisher]}
export SYNCD_PG_SUBSCRIBER_PORT=${PORT[subscriber]}
export SYNCD_PG_JOURNAL_PORT=${PORT[journal]}
export SYNCD_PG_USER=$USER_NAME
export SYNCD_PG_PASSWORD=$PASSWORD
export SYNCD_PG_DATABASE=$DB
export SYNCD_PG_SCRIPT=$(cd "$(dirname "$0")" && pwd)/pg.sh
ENV
    ;;
  sync-sequences) sync_sequences ;;
  reset)
    "$0" stop || true
    rm -rf "$BASE" ;;
  *) die "usage: $0 start|stop [NODE...]|status|env|reset" ;;
esac
