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

# BENCH_PHASES runs a subset, e.g. BENCH_PHASES="scale store" make bench.
PHASES="${BENCH_PHASES:-readable consumer accept reads analytics notify scale live store media servers}"
want() { [[ " $PHASES " == *" $1 "* ]]; }
fresh() {
  stack up --fresh >/dev/null
  # shellcheck disable=SC1091
  source .stack/bench/env
}

for phase in readable consumer accept reads; do
  want "$phase" || continue
  fresh
  uv run --frozen python -m bench.run "$phase" "$@"
done
# Analytics: events/s through one instance vs the raw consume rate, on a fresh stack of its own.
if want analytics; then fresh; uv run --frozen python -m bench.analytics; fi
# Notify: events -> emails accepted by a local SMTP sink, on a fresh stack of its own.
if want notify; then fresh; uv run --frozen python -m bench.notify; fi
# Data at city size: reads through the gateway at 10,000 and 100,000 reports, checked against
# ground truth, with the servers on core 0 and the load generator on core 1.
if want scale; then fresh; uv run --frozen python -m bench.scale; fi
# The store (before live: the live phase's 20,000 client sockets hold ephemeral ports, the
# range the bench profile's Mongo ports 47017-47019 fall in, for a minute after it):
# FerretDB on PostgreSQL (with and without the GIN twins) vs on SQLite at 10,000 and
# 100,000 reports, side by side on the bench profile's ports (so its stack is stopped first).
if want store; then
  stack down >/dev/null
  uv run --frozen python -m bench.store --profile bench
fi
# Live updates: 10,000 SSE streams on one gateway process, a status change to 1,000 followers;
# each side needs a descriptor per stream (raised for this phase only, up to the hard limit).
if want live; then fresh; (ulimit -n "$(ulimit -Hn)" && uv run --frozen python -m bench.live); fi
# The image pipeline needs no stack: one worker process, one core.
if want media; then uv run --frozen python -m bench.media; fi
# The ASGI server: uvicorn against granian on the bare app, CPU per request decides (no stack).
if want servers; then uv run --frozen python -m bench.servers; fi
# The summary (latest.md) needs every phase's figures: written by a full run only.
if [ -z "${BENCH_PHASES:-}" ]; then uv run --frozen python -m bench.run report; fi
