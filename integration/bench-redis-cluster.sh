#!/usr/bin/env bash
# Benchmark of `syncctl verify` between two Redis clusters (three masters each), beside the floor
# measured in the same run: integration/redis-floor.c (plain C on hiredis: SCAN, then one pipelined
# DUMP per key, replies discarded) on every master at once — the source's three, and all six
# masters of both clusters (the least reading a two-sided check must do). Keys of mixed types are
# written to the master serving their slot; syncd's full sync copies them to the DR cluster.
# The clusters are a separate set (integration/redis-cluster.sh on their own ports), stopped at
# the end. Each figure is the median of RUNS runs (floors and checks alternating) with its range;
# syncd's peak RSS after each size shows whether memory grows with the key count. CPU steal over
# the measurements is printed too.
# Usage: integration/bench-redis-cluster.sh [KEYS ...]     (default: 200000 1000000; RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(200000 1000000)
RUNS=${RUNS:-3}
STATE=$ROOT/.build-bench
mkdir -p "$STATE"
export SYNCD_CLUSTER_DIR=/var/tmp/syncd-cluster-bench SYNCD_CLUSTER_SOURCE_BASE=27201 SYNCD_CLUSTER_DR_BASE=27301
PASSWORD=${SYNCD_REDIS_PASSWORD:-syncd-demo-password}

bash integration/install-deps.sh >/dev/null
gcc -O2 -Wall -o "$STATE/redis-floor" integration/redis-floor.c -lhiredis
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  bash integration/redis-cluster.sh stop
}
trap cleanup EXIT
bash integration/redis-cluster.sh start >/dev/null
cli() { REDISCLI_AUTH=$PASSWORD redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning "${@:2}"; }
masters() { cli "$1" CLUSTER NODES | awk '$3 ~ /master/ && NF > 8 {split($2, a, "[:@]"); print a[2]}'; }

load() { # keys: one sixth of each type (named as redis-floor.c's typed reads expect), each sent to its slot's master
  for port in $(masters 27201); do cli "$port" FLUSHALL >/dev/null; done
  for port in $(masters 27301); do cli "$port" FLUSHALL >/dev/null; done
  cli 27201 CLUSTER NODES | awk '$3 ~ /master/ && NF > 8 {split($2, a, "[:@]"); for (i = 9; i <= NF; i++) print a[2], $i}' >"$STATE/cluster-slots.txt"
  python3 - "$1" "$STATE" <<'PY'
import sys
n, state = int(sys.argv[1]), sys.argv[2]
owner = [None] * 16384
for line in open(f"{state}/cluster-slots.txt"):
    port, slots = line.split()
    low, _, high = slots.partition("-")
    for s in range(int(low), int(high or low) + 1): owner[s] = port
def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8): crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc
files = {port: open(f"{state}/cluster-load-{port}.resp", "wb") for port in set(owner)}
def cmd(words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w.encode(); out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out
for j in range(n):
    t = j % 6
    words = (["SET", f"s:{j}", f"value-{j}"], ["HSET", f"h:{j}", "name", f"user-{j}", "lang", "en", "visits", str(j)],
             ["RPUSH", f"l:{j}", "a", "b", "c", str(j)], ["SADD", f"set:{j}", "x", "y", "z", str(j)],
             ["ZADD", f"z:{j}", "1", "alice", "2.5", "bob", str(j), "carol"], ["XADD", f"x:{j}", f"{j+1}-0", "type", "event", "n", str(j)])[t]
    files[owner[crc16(words[1].encode()) % 16384]].write(cmd(words))
PY
  for file in "$STATE"/cluster-load-*.resp; do
    port=${file##*-}; port=${port%.resp}
    cli "$port" --pipe <"$file" >/dev/null &
  done
  wait
  rm -f "$STATE"/cluster-load-*.resp
}

start_syncd() {
  cat > "$STATE/bench-redis-cluster.yaml" <<YAML
listen: 127.0.0.1:8492
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-redis-cluster.sqlite
sources:
  - name: bench
    kind: redis
    mode: independent
    primary: {host: 127.0.0.1, port: 27201, cluster: true, seeds: ["127.0.0.1:27202"], user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}
    dr: {host: 127.0.0.1, port: 27301, cluster: true, seeds: ["127.0.0.1:27302"], user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}
YAML
  rm -f "$STATE/journal-redis-cluster.sqlite"*
  SYNCD_REDIS_PASSWORD=$PASSWORD BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 \
    "$BIN/syncd" --config "$STATE/bench-redis-cluster.yaml" --log-level warning >"$STATE/syncd-redis-cluster.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:8492/healthz >/dev/null 2>&1 && return; sleep 0.1; done
  echo "syncd did not start" >&2; cat "$STATE/syncd-redis-cluster.log" >&2; exit 2
}

ctl() { SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" "$@" --server http://127.0.0.1:8492; }

verify() { # prints "seconds primary_keys differing"
  ctl verify --source bench --full-diff --json 2>>"$STATE/verify-progress.log" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.3f %d %d" % (r["duration_seconds"], r["primary_rows"], r["missing"]+r["extra"]+r["changed"]))'
}

floor() { # ports... -> wall seconds for redis-floor dump on all of them at once, and the keys they read
  local start end total=0 pids=() port
  start=$(date +%s.%N)
  for port in "$@"; do "$STATE/redis-floor" 127.0.0.1 "$port" syncd "$PASSWORD" dump >"$STATE/floor-$port.out" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  for port in "$@"; do total=$(( total + $(awk '{print $1}' "$STATE/floor-$port.out") )); done
  echo "$(echo "$end - $start" | bc -l) $total"
}

source integration/bench-stats.sh
rss_mib() { echo $(( $(awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status") / 1024 )); }

printf '\n%-8s %-10s %-26s %-26s %-26s %-8s %-8s %-6s %s\n' keys data "source masters floor keys/s" "both clusters floor keys/s" "check keys/s" "vs src" "vs both" found "syncd peak RSS"
read -r steal0 all0 < <(steal)
for keys in "${SIZES[@]}"; do
  load "$keys"
  start_syncd
  copy_start=$(date +%s.%N)
  ctl resync --source bench >/dev/null
  copy_seconds=$(echo "$(date +%s.%N) - $copy_start" | bc -l)
  for data in identical "30 planted"; do
    if [ "$data" != identical ]; then
      # 30 differences on the DR cluster: 10 deleted, 10 changed, 10 added.
      for i in $(seq 1 10); do
        cli 27301 -c DEL "s:$(( i * 6 * (keys / 66) ))" >/dev/null
        cli 27301 -c HSET "h:$(( i * 6 * (keys / 66) + 1 ))" lang fr >/dev/null
        cli 27301 -c SET "s:dr-only:$i" x >/dev/null
      done
    fi
    src=(); both=(); checks=(); found=0
    for _ in $(seq "$RUNS"); do
      read -r t n < <(floor $(masters 27201)); src+=("$t")
      read -r t n < <(floor $(masters 27201) $(masters 27301)); both+=("$t")
      read -r t checked found < <(verify); checks+=("$t")
    done
    mapfile -t src_rates < <(rates "$keys" "${src[@]}")
    mapfile -t both_rates < <(rates "$((2 * keys))" "${both[@]}")
    mapfile -t check_rates < <(rates "$keys" "${checks[@]}")
    ms=$(median "${src_rates[@]}"); mb=$(median "${both_rates[@]}"); mc=$(median "${check_rates[@]}")
    printf '%-8s %-10s %-26s %-26s %-26s %-8s %-8s %-6s %s MiB\n' "$keys" "$data" "$ms ($(range "${src_rates[@]}"))" "$mb ($(range "${both_rates[@]}"))" \
      "$mc ($(range "${check_rates[@]}"))" "$(echo "100 * $mc / $ms" | bc -l | xargs printf '%.0f%%')" \
      "$(echo "100 * $mc / ($mb / 2)" | bc -l | xargs printf '%.0f%%')" "$found" "$(rss_mib)"
  done
  printf '%-8s full sync (syncctl resync) of every key into the empty DR cluster: %.1f s (%s keys/s)\n' "$keys" "$copy_seconds" "$(rate "$keys" "$copy_seconds")"
  kill "$SYNCD_PID"; wait "$SYNCD_PID" 2>/dev/null || true; SYNCD_PID=
done
echo
steal_since "$steal0" "$all0"
echo "figures: median (min-max) of $RUNS runs; floors and checks alternate within each run."
echo "source masters floor: redis-floor dump on the source's three masters at once; keys/s = keys / wall time."
echo "both clusters floor: the same on all six masters at once (every key read once on each side); keys/s = 2 x keys / wall time."
echo "check: syncctl verify --full-diff against a release syncd; keys/s = primary keys / the check's own duration."
echo "vs src: check rate as a share of the source floor; vs both: as a share of the two-sided floor per key (both floor / 2)."
echo "found: differences reported (expected 0, then 30). syncd peak RSS: VmHWM after that row's checks."
