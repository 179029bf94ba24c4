#!/usr/bin/env bash
# Benchmark of the object-store check against `rclone check` (Debian's rclone), side by side in one
# run, on two SeaweedFS clusters of their own (integration/s3.sh with a separate directory and
# ports; filer.sync stopped), holding the same objects in a primary and a DR bucket: 10k objects of
# 1-64 KiB, and 100k small ones. The machine is shared and noisy: each figure is the median
# (min-max) of RUNS runs (default 3), syncd and rclone alternating; CPU steal is printed.
#   listing:   syncctl verify (key, size, ETag from ListObjectsV2)  vs  rclone check (size + MD5/ETag)
#   content:   syncctl verify with content_check, objects without stored checksums (SHA-256 of both
#              sides streamed)  vs  rclone check --download
#   checksums: the same objects uploaded with S3 additional checksums (SHA-256, boto3), so the
#              content check settles them by HEAD  vs  rclone check --download
# Usage: [RUNS=3] integration/bench-s3.sh [COUNTS ...]     (default: 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
COUNTS=("$@"); [ ${#COUNTS[@]} -eq 0 ] && COUNTS=(10000 100000)
RUNS=${RUNS:-3}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"
export SYNCD_S3_DIR=/var/tmp/syncd-s3-bench SYNCD_S3_PORT_OFFSET=2000

bash integration/install-deps.sh
command -v rclone >/dev/null || { apt-get install -y -qq rclone >/dev/null; }
if [ ! -x "$STATE/venv-s3/bin/python" ] || ! "$STATE/venv-s3/bin/python" -c 'import boto3' 2>/dev/null; then
  python3 -m venv "$STATE/venv-s3"
  "$STATE/venv-s3/bin/pip" install -q boto3
fi
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  bash integration/s3.sh stop
}
trap cleanup EXIT
bash integration/s3.sh start >/dev/null
bash integration/s3.sh sync-stop
eval "$(bash integration/s3.sh env)"
now() { date +%s.%N; }
source integration/bench-stats.sh

# rclone reads its remotes from the environment: p (primary) and d (DR). Its AWS SDK refuses a
# custom CA bundle with rclone's HTTP transport (and these endpoints are plain http).
unset AWS_CA_BUNDLE
for remote in P D; do
  url=$SYNCD_S3_PRIMARY; [ $remote = D ] && url=$SYNCD_S3_DR
  export RCLONE_CONFIG_${remote}_TYPE=s3 RCLONE_CONFIG_${remote}_PROVIDER=SeaweedFS RCLONE_CONFIG_${remote}_ENDPOINT=$url
  export RCLONE_CONFIG_${remote}_ACCESS_KEY_ID=$SYNCD_S3_ACCESS RCLONE_CONFIG_${remote}_SECRET_ACCESS_KEY=$SYNCD_S3_SECRET
done

load() { # count bucket-suffix: the same files into both buckets
  local count=$1 dir=$STATE/s3-objects-$1
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    python3 - "$dir" "$count" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(count)
for i in range(count):
    sub = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(sub, exist_ok=True)
    size = random.randint(1024, 65536) if count <= 10000 else random.randint(100, 2000)
    with open(os.path.join(sub, "object-%07d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
PY
  fi
  bash integration/s3.sh bucket primary "bench-$1"
  bash integration/s3.sh bucket dr "bench-$1"
  # --size-only: on a re-run the objects are there already, and comparing modification times
  # costs rclone a HEAD per object (about 10 minutes per side at 1M).
  rclone copy "$dir" "p:bench-$1" --transfers 32 --checkers 32 --size-only -q
  rclone copy "$dir" "d:bench-$1" --transfers 32 --checkers 32 --size-only -q
  # The same files again, each PUT asking the store to check and keep its SHA-256 (content modes
  # run at 10k objects only).
  [ "$1" -le 10000 ] || return 0
  bash integration/s3.sh bucket primary "sums-$1"
  bash integration/s3.sh bucket dr "sums-$1"
  for url in "$SYNCD_S3_PRIMARY" "$SYNCD_S3_DR"; do
    "$STATE/venv-s3/bin/python" - "$dir" "$url" "sums-$1" <<'PY'
import boto3, concurrent.futures, os, sys
root, url, bucket = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=os.environ["SYNCD_S3_ACCESS"],
                  aws_secret_access_key=os.environ["SYNCD_S3_SECRET"], region_name="us-east-1")
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
def put(path):
    with open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=os.path.relpath(path, root), Body=f.read(), ChecksumAlgorithm="SHA256")
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    list(pool.map(put, files))
PY
  done
}

s3_source() { # name bucket [option lines]: one source of the config, the same bucket on both sides
  local name=$1 bucket=$2; shift 2
  echo "  - name: $name"
  echo "    kind: s3"
  echo "    mode: native"
  echo "    poll_interval: 1h"
  for option in "$@"; do echo "    $option"; done
  for side in primary dr; do
    local url=$SYNCD_S3_PRIMARY; [ $side = dr ] && url=$SYNCD_S3_DR
    echo "    $side: {url: \"$url\", bucket: $bucket, access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}"
  done
}

start_syncd() { # count
  {
    echo "listen: 127.0.0.1:8495"
    echo "tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}"
    echo "journal: $STATE/journal-s3.sqlite"
    echo "sources:"
    s3_source listing "bench-$1"
    # Only the modes that run: every source's monitor lists its bucket for lag, and at 1M two
    # idle sources' listings would stay in syncd's memory beside the check's.
    if [ "$1" -le 10000 ]; then
      s3_source content "bench-$1" "content_check: true" "concurrency: 8"
      s3_source checksums "sums-$1" "content_check: true" "concurrency: 8"
    fi
  } > "$STATE/bench-s3.yaml"
  rm -f "$STATE/journal-s3.sqlite"*
  BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncd" --config "$STATE/bench-s3.yaml" --log-level warning >"$STATE/syncd-s3.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:8495/healthz >/dev/null 2>&1 && { settle_syncd; return; }; sleep 0.1; done
  echo "syncd did not start" >&2; cat "$STATE/syncd-s3.log" >&2; exit 2
}

# The monitor's first poll lists every source's buckets (lag); a check measured while it runs
# would be charged for two listings at once. Waits (at most 5 minutes) until syncd has used no
# CPU for 2 s.
settle_syncd() {
  local before after
  for _ in $(seq 150); do
    before=$(awk '{print $14 + $15}' "/proc/$SYNCD_PID/stat"); sleep 2
    after=$(awk '{print $14 + $15}' "/proc/$SYNCD_PID/stat")
    [ $((after - before)) -le 2 ] && return
  done
}

# The peak RSS of what runs next alone: resets the process's high-water mark.
reset_peak() { echo 5 > "/proc/$SYNCD_PID/clear_refs"; }

verify() { # source -> "seconds objects differing" (wall clock of the command, like rclone's)
  local start; start=$(now)
  # Progress lines (stderr) go to a log: the table shows figures only.
  local out; out=$(SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" verify --server http://127.0.0.1:8495 --source "$1" --json --rounds 1 2>>"$STATE/verify-progress.log")
  echo "$(echo "$(now) - $start" | bc -l) $(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["primary_rows"], r["missing"]+r["extra"]+r["changed"])')"
}

rclone_check() { # bucket [extra flags] -> "seconds peak_rss_kib"
  local start bucket=$1; shift; start=$(now)
  /usr/bin/time -f %M -o "$STATE/rclone-rss" rclone check "p:$bucket" "d:$bucket" --checkers 8 -q "$@" >/dev/null 2>&1 || true
  echo "$(echo "$(now) - $start" | bc -l) $(cat "$STATE/rclone-rss")"
}

read -r steal0 all0 < <(steal)
printf '\n%-8s %-10s %-22s %-22s %-18s %-6s %-15s %s\n' objects mode "syncd s" "rclone s" "speedup" found "syncd peak RSS" "rclone peak RSS"
for count in "${COUNTS[@]}"; do
  load "$count"
  start_syncd "$count"
  modes=(listing content checksums); [ "$count" -gt 10000 ] && modes=(listing)
  for mode in "${modes[@]}"; do
    ours=(); theirs=(); ratios=(); rss=0
    flags=(); [ "$mode" != listing ] && flags=(--download)
    bucket=bench-$count; [ "$mode" = checksums ] && bucket=sums-$count
    reset_peak
    for _ in $(seq "$RUNS"); do
      read -r t objects found < <(verify "$mode"); ours+=("$t")
      read -r r k < <(rclone_check "$bucket" "${flags[@]}"); theirs+=("$r"); [ "$k" -gt "$rss" ] && rss=$k
      ratios+=("$(echo "$r / $t" | bc -l)")
    done
    o=$(median "${ours[@]}"); r=$(median "${theirs[@]}")
    printf '%-8s %-10s %-22s %-22s %-18s %-6s %-15s %s MiB\n' "$objects" "$mode" "$(printf '%.2f' "$o") ($(range "${ours[@]}" | awk -F- '{printf "%.2f-%.2f", $1, $2}'))" \
      "$(printf '%.2f' "$r") ($(range "${theirs[@]}" | awk -F- '{printf "%.2f-%.2f", $1, $2}'))" \
      "$(printf '%.1fx' "$(echo "$r / $o" | bc -l)") ($(range "${ratios[@]}" | awk -F- '{printf "%.1f-%.1f", $1, $2}'))" "$found" \
      "$(( $(awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status") / 1024 )) MiB" "$((rss / 1024))"
  done
  kill "$SYNCD_PID"; wait "$SYNCD_PID" 2>/dev/null || true; SYNCD_PID=
done
echo
echo "syncd: syncctl verify --rounds 1 against a release syncd (wall clock of the command). listing: both buckets listed"
echo "       with ListObjectsV2 (1000 keys per page), compared by key, size and ETag. content: also streams every object of"
echo "       both sides through SHA-256, 8 at a time. rclone: rclone check --checkers 8 (listing + size + MD5 from the ETag);"
echo "       --download reads both sides' content. checksums: content mode on objects both stores keep a SHA-256 of (settled"
echo "       by HEAD with checksum mode; no content read). speedup: rclone's median / syncd's (range: per run). found: differences"
echo "       (expected 0). Medians (min-max) of $RUNS runs. syncd peak RSS: the high-water mark of that mode's runs alone"
echo "       (reset before them, after the monitor's first poll has finished)."
steal_since "$steal0" "$all0"
