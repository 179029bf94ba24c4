#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what it needs, starts the real
# PostgreSQL and Redis servers, the two Kafka mock clusters and the two SeaweedFS clusters
# (integration/pg.sh, redis.sh, redis-sentinel.sh, redis-cluster.sh, kafka.sh, s3.sh),
# runs every test, stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
bash integration/install-deps.sh

trap 'bash integration/s3.sh stop; bash integration/kafka.sh stop; bash integration/redis-cluster.sh stop; bash integration/redis-sentinel.sh stop; bash integration/redis.sh stop; bash integration/pg.sh stop' EXIT
bash integration/pg.sh start
bash integration/redis.sh start
bash integration/redis-sentinel.sh start
bash integration/redis-cluster.sh start
bash integration/kafka.sh start
bash integration/s3.sh start
eval "$(bash integration/pg.sh env)"
eval "$(bash integration/redis.sh env)"
eval "$(bash integration/redis-sentinel.sh env)"
eval "$(bash integration/redis-cluster.sh env)"
eval "$(bash integration/kafka.sh env)"
eval "$(bash integration/s3.sh env)"

swift build --build-tests
# A long log may be shown cut in the middle: the failures are repeated, one line each, at its end.
log=$(mktemp "${TMPDIR:-/tmp}/syncd-tests-XXXXXX")
status=0
swift test --no-parallel 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "=== test failures (test name shortened; the full message is above):"
  grep -E '^✘ Test .* recorded an issue' "$log" | sed -E 's/^✘ Test "(.{0,70})[^"]*" recorded an issue at/✘ "\1…" at/' | cut -c1-500 || true
fi
rm -f "$log"
exit "$status"
