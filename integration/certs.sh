#!/usr/bin/env bash
# A local CA and certificates for syncd's API under TLS (the demo and the tests), made with openssl:
#   integration/certs.sh make DIR   CA, a server certificate for 127.0.0.1/localhost, a client
#                                   certificate for mutual TLS, and broken files for the error tests
#                                   (idempotent: an existing set that is still valid is kept)
# Files in DIR: ca.pem ca.key server.pem server.key client.pem client.key other-ca.pem
#               other.key (a key that matches no certificate here) expired.pem expired.key
set -euo pipefail
command -v openssl >/dev/null || { echo "certs.sh: openssl is missing (integration/install-deps.sh installs it)" >&2; exit 2; }
[ "${1:-}" = make ] && [ -n "${2:-}" ] || { echo "usage: certs.sh make DIR" >&2; exit 2; }
DIR=$2
mkdir -p "$DIR"
cd "$DIR"
if [ -f server.pem ] && openssl x509 -checkend 86400 -noout -in server.pem >/dev/null 2>&1 \
   && [ -f expired.pem ] && [ -f other-ca.pem ]; then
  exit 0
fi
quiet() { "$@" >/dev/null 2>&1 || { echo "certs.sh: failed: $*" >&2; "$@"; exit 2; }; }
key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key ca.key
quiet openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=syncd test CA" -out ca.pem
key other-ca.key
quiet openssl req -x509 -new -key other-ca.key -sha256 -days 30 -subj "/CN=some other CA" -out other-ca.pem

# signed NAME CN DAYS EXT: a certificate for NAME.key signed by the CA.
signed() {
  key "$1.key"
  quiet openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  quiet openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$3" -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}
signed server "syncd test server" 30 "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
signed client "syncctl test client" 30 "extendedKeyUsage=clientAuth"

# A certificate that expired yesterday: openssl x509 cannot backdate, so sign with a CA config.
key expired.key
quiet openssl req -new -key expired.key -subj "/CN=expired" -out expired.csr
cat > expired.cnf <<'EOF'
[ca]
default_ca = test
[test]
database = expired.index
new_certs_dir = .
serial = expired.serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
EOF
: > expired.index
echo 01 > expired.serial
quiet openssl ca -batch -config expired.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200201000000Z -notext
rm -f expired.csr expired.cnf expired.index* expired.serial* 01.pem
key other.key
chmod 600 ./*.key
