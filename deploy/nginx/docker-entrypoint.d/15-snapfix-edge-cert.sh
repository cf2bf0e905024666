#!/bin/sh
# Run by the official nginx image's entrypoint before nginx starts (docker-compose.yml
# mounts this one file into /docker-entrypoint.d, beside the image's own scripts).
# Makes a local CA and a certificate for the edge when none is there, kept in the
# edge-tls volume across restarts. A deployment mounts its real certificate at the same
# paths instead, and this does nothing.
# (The Debian-based image has openssl: ca-certificates depends on it.)
set -eu
dir=$(dirname "${SNAPFIX_EDGE_CERT:?}")
if [ -s "$SNAPFIX_EDGE_CERT" ] && [ -s "$SNAPFIX_EDGE_KEY" ]; then
  echo "$0: using the certificate at $SNAPFIX_EDGE_CERT"
  exit 0
fi
command -v openssl >/dev/null || { echo "$0: openssl missing; mount a certificate at $SNAPFIX_EDGE_CERT" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca-key.pem -out ca.pem -days 825 -subj "/CN=SnapFix local edge CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=${SNAPFIX_EDGE_CERT_SANS:-DNS:localhost,IP:127.0.0.1}" > edge.ext
# shellcheck disable=SC2086
openssl req -new $ec -keyout "$SNAPFIX_EDGE_KEY" -out edge.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in edge.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 397 -extfile edge.ext \
  -out "$SNAPFIX_EDGE_CERT" 2>/dev/null
chmod 600 ca-key.pem "$SNAPFIX_EDGE_KEY"
echo "$0: made a local CA ($dir/ca.pem: trust it, e.g. curl --cacert) and the edge's certificate"
