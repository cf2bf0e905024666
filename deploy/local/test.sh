#!/usr/bin/env bash
# `make test`: static checks, then every test tier against a real stack that this
# script starts on its own ports (profile "test") and always stops again.
set -euo pipefail
cd "$(dirname "$0")/../.."

stack() { uv run --frozen python deploy/local/stack.py "$@" --profile test; }
cleanup() { stack down >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== static checks"
make --no-print-directory check

echo "== web app (web/): install, typecheck, unit tests, build"
(
  cd web
  # npm ci only when package-lock.json is newer than what node_modules was installed from.
  if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.package-lock.json
  fi
  npm run typecheck
  npm test
  npm run build
)

echo "== local stack (profile test)"
stack up --fresh
# shellcheck disable=SC1091
source .stack/test/env

echo "== tests"
uv run --frozen pytest "$@"
