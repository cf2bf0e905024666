"""Notifications per second end to end: events published -> emails accepted by a local SMTP sink.

One notify process (the real one, as a subprocess) on the bench stack, its SMTP endpoint an
aiosmtpd sink on loopback in this process. A burst of public comments on reports that
have a reporter (email) is published to issues.events.v1 at once; the clock runs from the
first publish to the last email accepted. The baseline is the sink itself: the same number
of messages sent to it directly by aiosmtplib over the same number of connections.

    BENCH_NOTIFY_EVENTS=500 python -m bench.notify      # with the stack's env sourced

Results: bench/results/notify.json (and a section of latest.md via ``bench.run report``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueCommented
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import (
    envelope,
    new_user_id,
    notify_settings,
    publish,
    registered,
    reported,
    start_groups_at_end,
)
from tests.mailbox import Mailbox
from tests.stack import ROOT, connect_stack, free_port, wait_ready

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = 32


async def _until(mailbox: Mailbox, prefix: str, count: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(1 for s in mailbox.summary() if s.subject.startswith(prefix)) >= count:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"fewer than {count} '{prefix}' emails within {timeout_s}s")


async def baseline(mailbox: Mailbox, count: int) -> float:
    """Messages/s straight into the sink over CONCURRENCY connections (the ceiling of this measure)."""

    async def one_connection(n: int) -> None:
        async with aiosmtplib.SMTP(hostname=mailbox.host, port=mailbox.port, timeout=10) as smtp:
            for i in range(n):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "b@x.org", "b@x.org", f"baseline {i}"
                msg.set_content("baseline")
                await smtp.send_message(msg)

    start = time.monotonic()
    await asyncio.gather(*(one_connection(count // CONCURRENCY) for _ in range(CONCURRENCY)))
    return (count // CONCURRENCY) * CONCURRENCY / (time.monotonic() - start)


async def bench(events: int) -> dict[str, Any]:
    stack = connect_stack()
    mailbox = Mailbox().start()
    settings = notify_settings(stack, mailbox, send_concurrency=CONCURRENCY)
    await start_groups_at_end(stack.kafka, settings)
    port = free_port()
    env = {
        **os.environ,
        "SNAPFIX_HTTP_PORT": str(port),
        "SNAPFIX_MONGO_DATABASE": settings.mongo_database,
        "SNAPFIX_NOTIFY_USERS_GROUP": settings.notify_users_group,
        "SNAPFIX_NOTIFY_ISSUES_GROUP": settings.notify_issues_group,
        "SNAPFIX_WEBHOOKS_GROUP": settings.webhooks_group,
        "SNAPFIX_SEND_CONCURRENCY": str(CONCURRENCY),
        "SNAPFIX_MONGO_TIMEOUT_MS": "15000",
        "NOTIFY_SMTP_HOST": mailbox.host,
        "NOTIFY_SMTP_PORT": str(mailbox.port),
        "SNAPFIX_LOG_LEVEL": "WARNING",
    }
    log = (RESULTS / "notify.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock runs
        [sys.executable, "-m", "snapfix_notify"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:
        if not wait_ready(f"http://127.0.0.1:{port}", proc, timeout_s=120):
            raise RuntimeError("notify did not start; see bench/results/notify.log")
        reporters = [new_user_id() for _ in range(10)]
        await publish(stack.kafka, Topic.USERS_EVENTS, [registered(r) for r in reporters])
        reports = [reported(r) for r in reporters for _ in range(2)]
        await publish(stack.kafka, Topic.ISSUES_EVENTS, reports)
        await _until(mailbox, "We received", len(reports), 120)  # warm: contacts and reports are known

        commenter = new_user_id()
        burst = [
            IssueCommented(
                **envelope(actor_id=commenter),
                issue_id=reports[n % len(reports)].issue_id,
                comment_id=uuid7(),
                body=f"comment {n}",
                commented_at=utcnow(),
            )
            for n in range(events)
        ]
        start = time.monotonic()
        await publish(stack.kafka, Topic.ISSUES_EVENTS, burst)
        end = await _until(mailbox, "New comment", events, 600)
        per_s = events / (end - start)
        sink_per_s = await baseline(mailbox, 2000)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        mailbox.stop()
    return {
        "events": events,
        "notifications_per_s": round(per_s, 1),
        "sink_direct_per_s": round(sink_per_s, 1),
        "send_concurrency": CONCURRENCY,
    }


def main() -> None:
    events = int(os.environ.get("BENCH_NOTIFY_EVENTS", "500"))
    result = asyncio.run(bench(events))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
