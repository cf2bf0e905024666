#!/usr/bin/env bash
# Installs what SnapFix needs on a fresh machine: uv, the Debian packages (Redis,
# docker-compose for validating the compose file) and the Python workspace from uv.lock.
# Kafka (Maven) and FerretDB (Go) are fetched and built by stack.py when first started.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { echo "[install] $*"; }
fail() { echo "[install] FAILED: $*" >&2; exit 1; }

for tool in java mvn go; do
  command -v "$tool" >/dev/null || fail "'$tool' is not on PATH (this machine kind ships OpenJDK 17, Maven and Go)"
done

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "need root to apt-get install ${missing[*]}"
  step "apt-get install ${missing[*]}"
  apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]}"
fi

if ! command -v uv >/dev/null; then
  step "pip install uv"
  python3 -m pip install -q 'uv>=0.5' || fail "pip install uv"
fi

step "uv sync (Python workspace from uv.lock)"
uv sync --frozen --all-packages -q || fail "uv sync --frozen"
