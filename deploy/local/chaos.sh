#!/usr/bin/env bash
# `make chaos`: faults one at a time under a steady load, then a ledger of what survived
# (bench/chaos.py). A fresh stack of its own (profile "chaos"): three Kafka brokers, the five
# processes, a second gateway and nginx in front of both, FerretDB on PostgreSQL as `make run`
# has it (on SQLite every query scans: the store, not the fault, would decide the figures).
# Results: bench/results/chaos.{md,json}.
#   CHAOS_FAULTS="broker notify" make chaos   # a subset: broker issues media notify analytics redis store gateway
#   CHAOS_PROFILE=dev9 make chaos             # another stack profile (deploy/local/stack.py --help)
#   CHAOS_KEEP=1 make chaos                   # leave the stack running afterwards, to look at it
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE="${CHAOS_PROFILE:-chaos}"
stack() { uv run --frozen python deploy/local/stack.py "$@" --profile "$PROFILE"; }
cleanup() { [ -n "${CHAOS_KEEP:-}" ] || stack down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# The load comes from one address and a few users: the rate limits are raised (their refusals
# are tested elsewhere); traces are not exported (no collector runs here).
export SNAPFIX_RATE_LIMIT_USER=100000/minute SNAPFIX_RATE_LIMIT_ANONYMOUS=100000/minute
export SNAPFIX_RATE_LIMIT_TOKEN=100000/minute OTEL_TRACES_EXPORTER=none
echo "[chaos] a fresh stack '$PROFILE': 3 Kafka brokers, the five processes, two gateways behind nginx"
stack up --fresh --kafka-nodes 3 --apps --edge --store postgresql
# shellcheck disable=SC1090
source ".stack/$PROFILE/env"
uv run --frozen python -m bench.chaos
