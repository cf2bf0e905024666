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

echo "== local stack (profile test)"
stack up --fresh
# shellcheck disable=SC1091
source .stack/test/env

echo "== tests"
uv run --frozen pytest "$@"
