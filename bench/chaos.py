"""`make chaos`: faults one at a time under a steady mix of work, then a ledger of what survived.

The system runs as ``make run`` runs it (deploy/local/stack.py, profile "chaos"): three Kafka
brokers (replication factor 3, min.insync.replicas 2), FerretDB, Redis, the five processes,
a second gateway and nginx in front of both. Citizens (through nginx, over TLS) report
issues, some with a photo, comment on and vote for each other's reports and read; staff move
their department's reports along. Every POST carries an Idempotency-Key and is retried with
it like a phone would (transport errors, 5xx, 409 "in progress", 429).

Faults, one at a time, each followed by a calm phase: SIGKILL of the broker leading
``issues.commands.v1`` partition 0 (brought back 10 s later); SIGKILL of each consumer
process (issues, media, notify, analytics), restarted at once; a Redis restart (SHUTDOWN SAVE); SIGSTOP of
the Mongo-wire server (FerretDB) for 30 s; SIGKILL of one of the two gateways behind nginx
(restarted 10 s later). ``CHAOS_FAULTS="broker notify"`` runs a subset.

Then, once every consumer group has caught up and the mail has stopped arriving, the
ledger checks: every 202 stored exactly once (reports, photos, comments, votes,
transitions; read back through the API and counted in the store), no effect applied twice
(vote counts, comment lists, transition histories), every expected email sent (duplicates
<= kills, and every duplicate repeats a Message-ID), the analytics service's counts equal to
the ground truth (the stored reports, and the issue events counted the plain way by
tests.analytics_history), and availability (the non-5xx share of requests, no answer
counting as 5xx) outside the fault windows >= 99.9 %. A fault window runs from the
injection to the recovery plus ``CHAOS_SETTLE_S``. Each figure is printed and written to
bench/results/chaos.json and chaos.md; misses are reported as misses (exit code 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from uuid import uuid4

from bench.chaos_checks import check
from bench.chaos_faults import Faults
from bench.chaos_ledger import Ledger
from bench.chaos_load import Load, small_photo
from bench.chaos_report import markdown
from bench.chaos_settings import (
    CALM_S,
    CITIZENS,
    DOWN_S,
    FAULTS,
    PAUSE_S,
    RESULTS,
    SETTLE_S,
    log,
)
from bench.chaos_stack import LocalStack


def chosen_faults() -> list[str]:
    wanted = os.environ.get("CHAOS_FAULTS", "").replace(",", " ").split()
    unknown = [f for f in wanted if f not in FAULTS]
    if unknown:
        raise SystemExit(f"CHAOS_FAULTS: unknown {unknown}; choose from {' '.join(FAULTS)}")
    return wanted or list(FAULTS)


async def main() -> int:
    faults = chosen_faults()
    profile = os.environ.get("SNAPFIX_STACK_PROFILE", "chaos")
    stack = LocalStack(profile)
    ledger = Ledger(run=uuid4().hex[:8])
    started_at, mail_since, t0 = datetime.now(UTC), time.time_ns(), ledger.t0
    load_start = os.getloadavg()
    log(f"profile {profile}, faults: {' '.join(faults)}; load average {load_start[0]:.2f}")
    load = Load(stack, ledger, small_photo())
    await load.set_up(os.environ["SNAPFIX_MONGO_URL"])
    workers = [asyncio.create_task(load.citizen(p)) for p in load.citizens]
    workers += [asyncio.create_task(load.crew(d)) for d in load.staff]
    chaos = Faults(stack, ledger)
    try:
        await asyncio.sleep(CALM_S)
        for fault in faults:
            await chaos.run(fault)
            await asyncio.sleep(CALM_S)
    finally:
        load.stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
    steady_s = time.monotonic() - t0
    log(f"load stopped after {steady_s:.0f} s: {dict(ledger.accepted)} accepted; checking ...")
    figures = await check(load, stack, ledger, started_at, mail_since)
    await load.close()
    load_end = os.getloadavg()
    result = {
        "run": ledger.run,
        "at": started_at.isoformat(timespec="seconds"),
        "profile": profile,
        "faults": [
            {k: v for k, v in w.items() if k not in {"start", "end"}}
            | {"at_s": round(w["start"] - t0, 1), "window_s": round(w["end"] - w["start"], 1)}
            for w in ledger.windows
        ],
        "load_s": round(steady_s, 1),
        "total_s": round(time.monotonic() - t0, 1),
        "load_average_1m_start_end": [round(load_start[0], 2), round(load_end[0], 2)],
        "cores": os.cpu_count(),
        "citizens": CITIZENS,
        "settings": {"calm_s": CALM_S, "settle_s": SETTLE_S, "pause_s": PAUSE_S, "down_s": DOWN_S},
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / "chaos.md").write_text(markdown(result))
    print(markdown(result), flush=True)
    return 1 if figures["misses"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
