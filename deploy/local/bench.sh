#!/usr/bin/env bash
# `make bench`: each benchmark on a fresh stack of its own (profile "bench"), each
# compared with a baseline measured in the same phase; results in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."

stack() { uv run --frozen python deploy/local/stack.py "$@" --profile bench; }
cleanup() { stack down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# vegeta holds a fixed arrival rate (open loop) and reports latency percentiles.
export GOBIN="$PWD/.stack/artifacts/bin"
if [ ! -x "$GOBIN/vegeta" ]; then
  echo "[bench] go install vegeta (Go module proxy)"
  go install github.com/tsenart/vegeta/v12@v12.12.0
fi
export PATH="$GOBIN:$PATH"

for phase in readable consumer accept reads; do
  stack up --fresh >/dev/null
  # shellcheck disable=SC1091
  source .stack/bench/env
  uv run --frozen python -m bench.run "$phase" "$@"
done
# Analytics: events/s through one instance vs the raw consume rate, on a fresh stack of its own.
stack up --fresh >/dev/null
# shellcheck disable=SC1091
source .stack/bench/env
uv run --frozen python -m bench.analytics
# Notify: events -> emails accepted by a local SMTP sink, on a fresh stack of its own.
stack up --fresh >/dev/null
# shellcheck disable=SC1091
source .stack/bench/env
uv run --frozen python -m bench.notify
# The store: FerretDB on PostgreSQL (with and without the GIN twins) vs on SQLite at 10,000 and
# 100,000 reports, side by side on the bench profile's ports (so its stack is stopped first).
stack down >/dev/null
uv run --frozen python -m bench.store --profile bench
# The image pipeline needs no stack: one worker process, one core.
uv run --frozen python -m bench.media
uv run --frozen python -m bench.run report
