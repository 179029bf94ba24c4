#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what it needs, starts the real
# PostgreSQL servers (integration/pg.sh), runs every test, stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
bash integration/install-deps.sh

bash integration/pg.sh start
trap 'bash integration/pg.sh stop' EXIT
eval "$(bash integration/pg.sh env)"

swift build --build-tests
swift test --no-parallel
