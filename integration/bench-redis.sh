#!/usr/bin/env bash
# Benchmark of `syncctl verify` on Redis, side by side in one run with the floor: the raw rate at
# which the same server answers a pipelined SCAN plus one read per key (integration/redis-floor.c,
# plain C on hiredis; "typed" reads each value with its type's command, "dump" with DUMP). Keys of
# mixed types (string, hash, list, set, sorted set, stream; all small) are loaded into a primary
# whose native replica follows it, on a separate set of servers (integration/redis.sh with its own
# directory and ports), which the script stops at the end. The machine is shared and noisy: each
# figure is the median (min-max) of RUNS runs (default 3), floors and checks alternating; the
# two-sided floor is DUMP of every key on the primary and on the replica at once (the least a check,
# which reads both, must do). CPU steal over the run is printed.
# Usage: integration/bench-redis.sh [KEYS ...]      (default: 200000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(200000 1000000)
STATE=$ROOT/.build-bench
mkdir -p "$STATE"
export SYNCD_REDIS_DIR=/var/tmp/syncd-redis-bench SYNCD_REDIS_PORT_BASE=26479

bash integration/install-deps.sh
command -v gcc >/dev/null || { apt-get install -y -qq gcc >/dev/null; }
gcc -O2 -Wall -o "$STATE/redis-floor" integration/redis-floor.c -lhiredis
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
swift build -c release --product syncctl >/dev/null 2>&1 || swift build -c release --product syncctl
BIN=$(swift build -c release --show-bin-path)

cleanup() {
  [ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null || true
  bash integration/redis.sh stop
}
trap cleanup EXIT
bash integration/redis.sh start >/dev/null
eval "$(bash integration/redis.sh env)"
cli() { REDISCLI_AUTH=$SYNCD_REDIS_PASSWORD redis-cli -h "$SYNCD_REDIS_HOST" -p "$1" --no-auth-warning "${@:2}"; }
now() { date +%s.%N; }

load() { # keys: one sixth of each type, written as raw protocol through redis-cli --pipe
  cli "$SYNCD_REDIS_PRIMARY_PORT" FLUSHALL >/dev/null
  awk -v n="$1" 'function cmd(s,   parts, k, out) {
      k = split(s, parts, " "); out = "*" k "\r\n"
      for (i = 1; i <= k; i++) out = out "$" length(parts[i]) "\r\n" parts[i] "\r\n"
      printf "%s", out }
    BEGIN { for (j = 0; j < n; j++) { t = j % 6
      if (t == 0) cmd("SET s:" j " value-" j)
      else if (t == 1) cmd("HSET h:" j " name user-" j " lang en visits " j)
      else if (t == 2) cmd("RPUSH l:" j " a b c " j)
      else if (t == 3) cmd("SADD set:" j " x y z " j)
      else if (t == 4) cmd("ZADD z:" j " 1 alice 2.5 bob " j " carol")
      else cmd("XADD x:" j " " j+1 "-0 type event n " j) } }' \
    | cli "$SYNCD_REDIS_PRIMARY_PORT" --pipe >/dev/null
  # The replica has everything once its applied offset equals the primary's.
  for _ in $(seq 600); do
    local p r
    p=$(cli "$SYNCD_REDIS_PRIMARY_PORT" INFO replication | awk -F: '/^master_repl_offset/ {print $2+0}')
    r=$(cli "$SYNCD_REDIS_REPLICA_PORT" INFO replication | awk -F: '/^slave_repl_offset/ {print $2+0}')
    [ "$p" = "$r" ] && return 0
    sleep 0.1
  done
  echo "the replica did not catch up" >&2; exit 2
}

start_syncd() {
  cat > "$STATE/bench-redis.yaml" <<YAML
listen: 127.0.0.1:8491
tokens: {read: {env: BENCH_READ_TOKEN}, admin: {env: BENCH_TOKEN}}
journal: $STATE/journal-redis.sqlite
sources:
  - name: bench
    kind: redis
    mode: replica
    primary: {host: $SYNCD_REDIS_HOST, port: $SYNCD_REDIS_PRIMARY_PORT, user: $SYNCD_REDIS_USER, password: {env: SYNCD_REDIS_PASSWORD}}
    dr: {host: $SYNCD_REDIS_HOST, port: $SYNCD_REDIS_REPLICA_PORT, user: $SYNCD_REDIS_USER, password: {env: SYNCD_REDIS_PASSWORD}}
YAML
  rm -f "$STATE/journal-redis.sqlite"*
  BENCH_READ_TOKEN=bench-read-token-0123456789 BENCH_TOKEN=bench-admin-token-0123456789 "$BIN/syncd" --config "$STATE/bench-redis.yaml" --log-level warning >"$STATE/syncd-redis.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:8491/healthz >/dev/null 2>&1 && return; sleep 0.1; done
  echo "syncd did not start" >&2; cat "$STATE/syncd-redis.log" >&2; exit 2
}

verify() { # prints "seconds primary_keys differing" from the check's own result
  # Progress lines (stderr) go to a log: the table shows figures only.
  SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" verify --server http://127.0.0.1:8491 --source bench --full-diff --json 2>>"$STATE/verify-progress.log" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.3f %d %d" % (r["duration_seconds"], r["primary_rows"], r["missing"]+r["extra"]+r["changed"]))'
}

floor() { # kind -> "keys seconds"
  "$STATE/redis-floor" "$SYNCD_REDIS_HOST" "$SYNCD_REDIS_PRIMARY_PORT" "$SYNCD_REDIS_USER" "$SYNCD_REDIS_PASSWORD" "$1"
}

both_floor() { # DUMP of every key on the primary and on the replica at once -> wall seconds
  local start end
  start=$(date +%s.%N)
  "$STATE/redis-floor" "$SYNCD_REDIS_HOST" "$SYNCD_REDIS_PRIMARY_PORT" "$SYNCD_REDIS_USER" "$SYNCD_REDIS_PASSWORD" dump >/dev/null &
  "$STATE/redis-floor" "$SYNCD_REDIS_HOST" "$SYNCD_REDIS_REPLICA_PORT" "$SYNCD_REDIS_USER" "$SYNCD_REDIS_PASSWORD" dump >/dev/null &
  wait
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

rss_mib() { echo $(( $(awk '/VmHWM/ {print $2}' "/proc/$SYNCD_PID/status") / 1024 )); }
source integration/bench-stats.sh
RUNS=${RUNS:-3}

# CPU time (clock ticks, user + system) a process has used so far; where the time of a figure goes.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
server_pid() { pgrep -f "redis-server $SYNCD_REDIS_HOST:$1" | head -1; }
CPU_LINES=()
measure() { # data label: RUNS rounds of each floor and the check, alternating; prints one row of medians (ranges)
  local typed=() dumped=() both=() checks=() keys found fk t
  local pp rp floor_p=0 floor_r=0 check_p=0 check_r=0 check_s=0 a b c
  pp=$(server_pid "$SYNCD_REDIS_PRIMARY_PORT"); rp=$(server_pid "$SYNCD_REDIS_REPLICA_PORT")
  for _ in $(seq "$RUNS"); do
    read -r fk t < <(floor typed); typed+=("$t")
    read -r fk t < <(floor dump); dumped+=("$t")
    a=$(ticks "$pp"); b=$(ticks "$rp")
    both+=("$(both_floor)")
    floor_p=$((floor_p + $(ticks "$pp") - a)); floor_r=$((floor_r + $(ticks "$rp") - b))
    a=$(ticks "$pp"); b=$(ticks "$rp"); c=$(ticks "$SYNCD_PID")
    read -r t keys found < <(verify); checks+=("$t")
    check_p=$((check_p + $(ticks "$pp") - a)); check_r=$((check_r + $(ticks "$rp") - b)); check_s=$((check_s + $(ticks "$SYNCD_PID") - c))
  done
  # CPU microseconds per key, summed over the rounds.
  local hz per; hz=$(getconf CLK_TCK); per() { echo "$1 * 1000000 / $hz / ($RUNS * $fk)" | bc -l | xargs printf '%.2f'; }
  CPU_LINES+=("$(printf '%-8s %-10s %-30s %-30s %s' "$fk" "$1" "$(per $floor_p) + $(per $floor_r)" "$(per $check_p) + $(per $check_r)" "$(per $check_s)")")
  local rt rd rb rc
  mapfile -t rt < <(rates "$fk" "${typed[@]}"); mapfile -t rd < <(rates "$fk" "${dumped[@]}")
  mapfile -t rb < <(rates "$fk" "${both[@]}"); mapfile -t rc < <(rates "$keys" "${checks[@]}")
  local mt md mb mc
  mt=$(median "${rt[@]}"); md=$(median "${rd[@]}"); mb=$(median "${rb[@]}"); mc=$(median "${rc[@]}")
  printf '%-8s %-10s %-24s %-24s %-24s %-24s %-8s %-8s %-5s %s MiB\n' "$keys" "$1" "$mt ($(range "${rt[@]}"))" "$md ($(range "${rd[@]}"))" \
    "$mb ($(range "${rb[@]}"))" "$mc ($(range "${rc[@]}"))" \
    "$(echo "100 * $mc / $mt" | bc -l | xargs printf '%.0f%%')" "$(echo "100 * $mc / $mb" | bc -l | xargs printf '%.0f%%')" "$found" "$(rss_mib)"
}

printf '\n%-8s %-10s %-24s %-24s %-24s %-24s %-8s %-8s %-5s %s\n' keys data "typed floor keys/s" "dump floor keys/s" "two-sided floor keys/s" "check keys/s" "vs typed" "vs both" found "syncd peak RSS"
read -r steal0 all0 < <(steal)
for keys in "${SIZES[@]}"; do
  load "$keys"
  start_syncd
  measure identical
  # 30 differences on the DR side, made on the primary while the replica is paused (the replica is read-only).
  SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" pause --server http://127.0.0.1:8491 --source bench >/dev/null
  for i in $(seq 1 10); do
    cli "$SYNCD_REDIS_PRIMARY_PORT" DEL "s:$(( i * 6 * (keys / 66) ))" >/dev/null
    cli "$SYNCD_REDIS_PRIMARY_PORT" HSET "h:$(( i * 6 * (keys / 66) + 1 ))" lang fr >/dev/null
    cli "$SYNCD_REDIS_PRIMARY_PORT" SET "s:new:$i" x >/dev/null
  done
  measure "30 planted"
  SYNCD_TOKEN=bench-admin-token-0123456789 "$BIN/syncctl" resume --server http://127.0.0.1:8491 --source bench >/dev/null
  kill "$SYNCD_PID"; wait "$SYNCD_PID" 2>/dev/null || true; SYNCD_PID=
done
echo
printf '%-8s %-10s %-30s %-30s %s\n' keys data "two-sided floor: servers µs/key" "check: servers µs/key" "check: syncd µs/key"
printf '%s\n' "${CPU_LINES[@]}"
echo "(CPU time per key of the primary + the DR server, and of syncd, from /proc/PID/stat over all rounds.)"

# What the primary spends per key on each command a check could send, for the largest data set
# (RUNS rounds, kinds alternating). Answers whether fewer round trips (a read-only script per
# batch) or fewer commands could bring the check closer to the floor.
PTTL_DUMP_SCRIPT="local o = {} for i, k in ipairs(KEYS) do o[2*i-1] = redis.pcall('PTTL', k) o[2*i] = redis.pcall('DUMP', k) end return o"
SIZED_SCRIPT="local o = {} for i, k in ipairs(KEYS) do local m = redis.pcall('MEMORY', 'USAGE', k, 'SAMPLES', '1') o[2*i-1] = redis.pcall('PTTL', k) if type(m) == 'number' and m < 65536 then o[2*i] = redis.pcall('DUMP', k) else o[2*i] = m end end return o"
command_costs() {
  local pp hz kinds=(scan exists pttl type memory dump pttl+dump memory+pttl+dump "script:pttl+dump" "script:memory+pttl+dump")
  local -A spent=()
  local sha_plain sha_sized
  pp=$(server_pid "$SYNCD_REDIS_PRIMARY_PORT"); hz=$(getconf CLK_TCK)
  sha_plain=$(cli "$SYNCD_REDIS_PRIMARY_PORT" SCRIPT LOAD "$PTTL_DUMP_SCRIPT")
  sha_sized=$(cli "$SYNCD_REDIS_PRIMARY_PORT" SCRIPT LOAD "$SIZED_SCRIPT")
  for _ in $(seq "$RUNS"); do
    for kind in "${kinds[@]}"; do
      local args=("$kind") a keys t
      [ "$kind" = "script:pttl+dump" ] && args=(script "$sha_plain")
      [ "$kind" = "script:memory+pttl+dump" ] && args=(script "$sha_sized")
      a=$(ticks "$pp")
      read -r keys t < <("$STATE/redis-floor" "$SYNCD_REDIS_HOST" "$SYNCD_REDIS_PRIMARY_PORT" "$SYNCD_REDIS_USER" "$SYNCD_REDIS_PASSWORD" "${args[@]}")
      spent[$kind]+="$(echo "($(ticks "$pp") - $a) * 1000000 / $hz / $keys" | bc -l | xargs printf '%.2f') "
    done
  done
  echo
  printf '%-26s %s\n' "primary: command per key" "server CPU µs/key, SCAN included (median, range of $RUNS)"
  for kind in "${kinds[@]}"; do
    # shellcheck disable=SC2086
    printf '%-26s %s (%s)\n' "$kind" "$(median ${spent[$kind]})" "$(range ${spent[$kind]})"
  done
  echo "(integration/redis-floor.c: SCAN COUNT 1000, then the command for every key, pipelined; exists: one EXISTS per"
  echo " SCAN batch; script: EVALSHA_RO of a script doing the same per key, 100 keys per call. The server's CPU time from /proc.)"
}
command_costs
echo
steal_since "$steal0" "$all0"
echo "two-sided floor: redis-floor.c dump on the primary and on the replica at once; keys/s = keys / wall time. vs both: check rate as a share of it."
echo "floors: integration/redis-floor.c on the primary alone: SCAN COUNT 1000, then one pipelined read per key (typed or DUMP)."
echo "check: syncctl verify --full-diff against a release syncd; keys/s = primary keys / the check's own duration. Per key it"
echo "       asks for a size estimate (the attached replica answers it; the primary does while the replica is paused, as in the"
echo "       planted rows), PTTL and DUMP on both sides (three batches in flight),"
echo "       and scans the DR side for extra keys (EXISTS on the primary); hashtable sets and hashes whose bytes differ are"
echo "       compared by their sorted elements parsed from the payload, other differing keys are read whole; differing keys"
echo "       are re-checked in 3 rounds. vs typed / vs dump: check rate as a share of each floor."
echo "found: differences reported (expected 0, then 30: while the replica is paused the primary deletes 10 keys (extra"
echo "       on the DR side), changes 10 and adds 10 (missing))."
