#!/usr/bin/env bash
# Benchmark of the journal's growth under a polling pipeline, side by side in one run with the
# reference: the same gate calls journaled one entry per call (each call from a distinct caller,
# which is what every call cost before repeats were counted). Then the latest-check lookup on a
# journal of LOOKUP_ROWS entries: the query syncd runs beside the unindexed form it replaced.
# Each figure is the median of RUNS alternating runs with its range; CPU steal is printed.
# Usage: integration/bench-journal.sh [CALLS [REF_CALLS [LOOKUP_ROWS [RUNS]]]]
#        (default: 100000 2000 1000000 3). It stops by itself; its files are under .build-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
CALLS=${1:-100000} REF_CALLS=${2:-2000} LOOKUP_ROWS=${3:-1000000} RUNS=${4:-3}
STATE=$ROOT/.build-bench/journal
rm -rf "$STATE"; mkdir -p "$STATE"

bash integration/install-deps.sh
swift build -c release --product syncd >/dev/null 2>&1 || swift build -c release --product syncd
BIN=$(swift build -c release --show-bin-path)
bash integration/pg.sh start >/dev/null
eval "$(bash integration/pg.sh env)"
PORT=8499
READ=bench-read-token-0123456789 ADMIN=bench-admin-token-0123456789
printf '%s\n' "$READ" > "$STATE/read.token"; printf '%s\n' "$ADMIN" > "$STATE/admin.token"
printf '%s' "$SYNCD_PG_PASSWORD" > "$STATE/pg.password"
endpoint() { echo "{host: $SYNCD_PG_HOST, port: $1, user: $SYNCD_PG_USER, database: $SYNCD_PG_DATABASE, password: {file: pg.password}}"; }

SYNCD_PID=
cleanup() { [ -n "$SYNCD_PID" ] && kill "$SYNCD_PID" 2>/dev/null || true; }
trap cleanup EXIT

start() {  # $1: journal file
  cat > "$STATE/syncd.yaml" <<YAML
listen: 127.0.0.1:$PORT
tokens: {read: {file: read.token}, admin: {file: admin.token}}
journal: $1
sources:
  - name: pg
    kind: postgres
    primary: $(endpoint "$SYNCD_PG_PRIMARY_PORT")
    dr: $(endpoint "$SYNCD_PG_STANDBY_PORT")
YAML
  "$BIN/syncd" --config "$STATE/syncd.yaml" --log-level warning >"$STATE/syncd.log" 2>&1 &
  SYNCD_PID=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$STATE/syncd.log" >&2; echo "syncd did not start" >&2; exit 2
}
stop() { kill -TERM "$SYNCD_PID"; wait "$SYNCD_PID" 2>/dev/null || true; SYNCD_PID=; }
size() { local total=0 f; for f in "$1" "$1-wal"; do [ -f "$f" ] && total=$((total + $(stat -c %s "$f"))); done; echo $total; }

# $1 calls, $2 "same" (one caller) or "distinct" (a caller per call); prints the journal's growth in
# bytes (a start and a stop of syncd included).
gate_calls() {
  local journal=$STATE/journal-$RANDOM.sqlite
  # Sizes are read with syncd stopped, when SQLite has folded its WAL into the file.
  start "$journal"; stop
  local before; before=$(size "$journal")
  start "$journal"; sleep 1.5
  python3 - "$1" "$2" "$PORT" "$READ" <<'PY'
import http.client, sys
calls, mode, port, token = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(calls):
    actor = "pipeline" if mode == "same" else f"pipeline-{i}"
    conn.request("GET", "/v1/gate?sources=pg", headers={"Authorization": f"Bearer {token}", "X-Syncd-Actor": actor})
    response = conn.getresponse(); response.read()
    if response.status not in (200, 503): sys.exit(f"gate answered {response.status}")
PY
  stop
  echo $(( $(size "$journal") - before ))
  rm -f "$journal" "$journal-wal" "$journal-shm"
}

steal() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
read -r steal0 total0 < <(steal)
same=() per_call=()
for run in $(seq "$RUNS"); do
  echo "run $run/$RUNS: $CALLS repeated gate calls, then $REF_CALLS calls from distinct callers (reference)" >&2
  same+=("$(gate_calls "$CALLS" same)")
  ref=$(gate_calls "$REF_CALLS" distinct)
  per_call+=("$(echo "scale=1; $ref / $REF_CALLS" | bc)")
done

# The latest-check lookup: a journal of LOOKUP_ROWS entries in syncd's own schema, one check among them.
journal=$STATE/lookup.sqlite
start "$journal"; stop
lookups=$(python3 - "$journal" "$LOOKUP_ROWS" "$RUNS" <<'PY'
import sqlite3, sys, time, statistics
path, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(path)
db.execute("INSERT INTO journal (time, kind, source, actor, action, outcome, detail) VALUES (1, 'check', 'pg', 'a', 'verify', 'pass', '{}')")
db.executemany("INSERT INTO journal (time, kind, source, actor, action, outcome, detail) VALUES (?, 'gate', 'pg', 'a', 'evaluate', 'pass', NULL)",
               ((i,) for i in range(rows)))
db.commit()
now = "SELECT id, time, kind, source, actor, action, outcome, detail FROM journal WHERE source = ?1 AND kind = ?2 ORDER BY id DESC LIMIT ?3"
old = "SELECT id, time, kind, source, actor, action, outcome, detail FROM journal WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3"
def timed(sql):
    start = time.perf_counter(); db.execute(sql, ("pg", "check", 50)).fetchall(); return (time.perf_counter() - start) * 1000
figures = {"now": [], "old": []}
for _ in range(runs):
    figures["now"].append(timed(now)); figures["old"].append(timed(old))
for name in ("now", "old"):
    values = sorted(figures[name])
    print(name, f"{statistics.median(values):.3f}", f"{values[0]:.3f}", f"{values[-1]:.3f}")
PY
)
read -r steal1 total1 < <(steal)

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
ref_median=$(median "${per_call[@]}")
echo
echo "journal growth, $RUNS alternating runs (median, range):"
printf '  %-46s %12s bytes  (%s)\n' "$CALLS repeated gate calls, repeats counted" "$(median "${same[@]}")" "$(range "${same[@]}")"
printf '  %-46s %12s bytes  (%s)\n' "reference: one entry per call, per call" "$ref_median" "$(range "${per_call[@]}")"
printf '  %-46s %12s bytes\n' "reference projected to $CALLS calls" "$(echo "$ref_median * $CALLS / 1" | bc)"
echo "latest-check lookup in a journal of $LOOKUP_ROWS entries (ms, median and range of $RUNS):"
echo "$lookups" | awk '{printf "  %-46s %12s ms  (%s-%s)\n", ($1 == "now" ? "syncd now: an index probe" : "reference: the former query"), $2, $3, $4}'
echo "CPU steal during the runs: $(echo "scale=1; 100 * ($steal1 - $steal0) / ($total1 - $total0)" | bc) %"
