"""Notifications and webhook deliveries per second end to end, each against its receiver fed directly.

One notify process (the real one, as a subprocess) on the bench stack.

- **Email.** Its SMTP endpoint is an aiosmtpd sink on loopback in this process. A burst of
  public comments on reports that have a reporter (email and in-app) is published to
  issues.events.v1 at once; the clock runs from the first publish to the last email
  accepted. The baseline is the sink fed directly with the very messages notify sent (the
  bytes it received, re-sent by aiosmtplib over the same number of connections, so the sink
  parses the same multipart messages), twice after the burst: the mean is the ratio's
  denominator. The earlier baseline, small one-part messages built by the client
  (``sink_direct_simple_per_s``), is measured too, before the burst.
- **Webhooks.** An endpoint registered through the admin API points at an aiohttp receiver
  in this process; a burst of public comments on reports notify does not know (so no
  email) is published; the clock runs from the first publish to the last delivery received.
  The baseline is the receiver fed directly: the same number of signed posts through the
  service's own ``WebhookSender`` at the same concurrency.

Next to the wall-clock rates, the CPU time (``/proc/<pid>/stat``) per notification and per
delivery of every process involved (notify, this profile's FerretDB, Kafka and Redis, and
this process: the sink, the receiver and the publisher), and per message of the baselines
(this process: client and sink), which a machine loaded by others disturbs far less.

    BENCH_NOTIFY_EVENTS=500 BENCH_WEBHOOK_EVENTS=1000 python -m bench.notify   # the stack's env sourced

Results: bench/results/notify.json (and a section of latest.md via ``bench.run report``).
"""

from __future__ import annotations

import asyncio
import contextlib
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
import httpx
from uuid_utils.compat import uuid7

from snapfix_notify.channels.webhook.sender import WebhookSender
from snapfix_shared.messages import IssueCommented
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.builders import as_viewer
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
from tests.webhook_receiver import Receiver, receiver

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = 32
WEBHOOK_CONCURRENCY = 16  # the service's default (SNAPFIX_WEBHOOK_CONCURRENCY)
ADMIN = as_viewer("bench-admin", "admin")  # the gateway's internal token, read afresh per request
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def stack_pids() -> dict[str, int]:
    """The local stack's servers (this profile's own), by name, when their pid files are there."""
    base = ROOT / ".stack" / os.environ.get("SNAPFIX_STACK_PROFILE", "dev")
    found = {}
    for name, pidfile in (
        ("ferretdb", "ferretdb/ferretdb.pid"),
        ("kafka", "kafka-1/kafka.pid"),
        ("redis", "redis/redis.pid"),
    ):
        with contextlib.suppress(OSError, ValueError):
            found[name] = int((base / pidfile).read_text())
    return found


class Cpu:
    """CPU seconds spent by each process of the measure (this one included) between start and stop."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.start, self.spent = {**pids, "bench (sink, receiver, client)": os.getpid()}, {}, {}

    def __enter__(self) -> Cpu:
        self.start = {name: cpu_s(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *_exc: object) -> None:
        self.spent = {name: cpu_s(pid) - self.start[name] for name, pid in self.pids.items()}

    def per_item_ms(self, items: int) -> dict[str, float]:
        shares = {name: round(s * 1000 / items, 2) for name, s in self.spent.items()}
        return {**shares, "total": round(sum(self.spent.values()) * 1000 / items, 2)}


async def _until(mailbox: Mailbox, prefix: str, count: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    seen = found = 0
    while time.monotonic() < deadline:
        new = mailbox.summary_since(seen)  # counted as they come: the harness stays cheap
        seen += len(new)
        found += sum(1 for s in new if s.subject.startswith(prefix))
        if found >= count:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"fewer than {count} '{prefix}' emails within {timeout_s}s")


async def _received(hook: Receiver, count: int, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len({r.headers["webhook-id"] for r in hook.on("/bench")}) >= count:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"fewer than {count} webhook deliveries within {timeout_s}s")


async def sink_direct(mailbox: Mailbox, messages: list[tuple[str, list[str], bytes]]) -> float:
    """Messages/s straight into the sink over CONCURRENCY connections: the very messages notify sent
    (the bytes the sink received), so the sink does the same work per message (the ceiling)."""
    queue = iter(messages)

    async def one_connection() -> None:
        async with aiosmtplib.SMTP(hostname=mailbox.host, port=mailbox.port, timeout=10) as smtp:
            for sender, recipients, raw in queue:
                await smtp.sendmail(sender, recipients, raw)

    start = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(CONCURRENCY)))
    return len(messages) / (time.monotonic() - start)


async def sink_direct_simple(mailbox: Mailbox, count: int) -> float:
    """The earlier baseline: small one-part messages built here, into the same sink (kept for comparison)."""

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


async def receiver_direct(url: str, secret: str, count: int) -> float:
    """Deliveries/s straight into the receiver: the service's sender, the same concurrency, no store."""
    sender = WebhookSender(timeout_s=10, max_connections=WEBHOOK_CONCURRENCY, allow_private=True)
    await sender.open()
    body = json.dumps({"type": "IssueCommented", "data": {"body": "baseline " + "x" * 200}})
    ids = iter(range(count))
    try:

        async def worker() -> None:
            for n in ids:
                attempt = await sender.send(f"{url}/direct", secret, f"msg_direct_{n}", body)
                assert attempt.status == 200, attempt

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(WEBHOOK_CONCURRENCY)))
        return count / (time.monotonic() - start)
    finally:
        await sender.close()


def comments(issue_ids: list[Any], count: int) -> list[IssueCommented]:
    commenter = new_user_id()
    return [
        IssueCommented(
            **envelope(actor_id=commenter),
            issue_id=issue_ids[n % len(issue_ids)],
            comment_id=uuid7(),
            body=f"comment {n}",
            commented_at=utcnow(),
        )
        for n in range(count)
    ]


async def email_phase(stack: Any, mailbox: Mailbox, pid: int, events: int) -> dict[str, Any]:
    reporters = [new_user_id() for _ in range(10)]
    await publish(stack.kafka, Topic.USERS_EVENTS, [registered(r) for r in reporters])
    reports = [reported(r) for r in reporters for _ in range(2)]
    await publish(stack.kafka, Topic.ISSUES_EVENTS, reports)
    await _until(mailbox, "We received", len(reports), 120)  # warm: contacts and reports are known

    simple = await sink_direct_simple(mailbox, 2000)
    burst = comments([r.issue_id for r in reports], events)
    with Cpu({"notify": pid, **stack_pids()}) as cpu:
        start = time.monotonic()
        await publish(stack.kafka, Topic.ISSUES_EVENTS, burst)
        end = await _until(mailbox, "New comment", events, 600)
    with mailbox.lock:
        sent = [m for m in mailbox.raw if b"Subject: New comment" in m[2]]
    with Cpu({}) as direct_cpu:
        before = await sink_direct(mailbox, sent)
    after = await sink_direct(mailbox, sent)
    per_s, sink = events / (end - start), (before + after) / 2
    return {
        "events": events,
        "notifications_per_s": round(per_s, 1),
        "sink_direct_per_s": round(sink, 1),
        "sink_direct_runs_per_s": [round(before, 1), round(after, 1)],
        "sink_direct_simple_per_s": round(simple, 1),
        "ratio": round(per_s / sink, 3),
        "ratio_to_simple": round(per_s / simple, 3),
        "target_ratio": 0.5,
        # Each comment is an email and an in-app entry for its reporter.
        "notify_cpu_ms_per_notification": cpu.per_item_ms(events)["notify"],
        "cpu_ms_per_notification": cpu.per_item_ms(events),
        "sink_direct_cpu_ms_per_message": direct_cpu.per_item_ms(len(sent))["total"],
        "send_concurrency": CONCURRENCY,
    }


async def webhook_phase(stack: Any, http: httpx.AsyncClient, pid: int, events: int) -> dict[str, Any]:
    async with receiver() as hook:
        created = await http.post(
            "/v1/admin/webhooks",
            json={"url": f"{hook.url}/bench", "event_types": ["IssueCommented"], "description": "bench"},
            headers=ADMIN,
        )
        created.raise_for_status()
        endpoint = created.json()
        unknown_issues = [uuid7() for _ in range(50)]  # notify knows no reporter: webhooks only
        burst = comments(unknown_issues, events)
        with Cpu({"notify": pid, **stack_pids()}) as cpu:
            start = time.monotonic()
            await publish(stack.kafka, Topic.ISSUES_EVENTS, burst)
            end = await _received(hook, events, 600)
        with Cpu({}) as direct_cpu:
            direct = await receiver_direct(hook.url, endpoint["secret"], events)
        repeats = len(hook.on("/bench")) - events
        await http.delete(f"/v1/admin/webhooks/{endpoint['id']}", headers=ADMIN)
    per_s = events / (end - start)
    return {
        "events": events,
        "deliveries_per_s": round(per_s, 1),
        "receiver_direct_per_s": round(direct, 1),
        "ratio": round(per_s / direct, 3),
        "target_per_s": 100,
        "repeated_deliveries": repeats,
        "notify_cpu_ms_per_delivery": cpu.per_item_ms(events)["notify"],
        "cpu_ms_per_delivery": cpu.per_item_ms(events),
        "receiver_direct_cpu_ms_per_delivery": direct_cpu.per_item_ms(events)["total"],
        "concurrency": WEBHOOK_CONCURRENCY,
    }


async def bench(events: int, webhook_events: int) -> dict[str, Any]:
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
        "SNAPFIX_WEBHOOK_CONCURRENCY": str(WEBHOOK_CONCURRENCY),
        "SNAPFIX_MONGO_TIMEOUT_MS": "15000",
        "NOTIFY_SMTP_HOST": mailbox.host,
        "NOTIFY_SMTP_PORT": str(mailbox.port),
        "SNAPFIX_LOG_LEVEL": "WARNING",
        # The receiver is a local http:// server: opted in as the e2e tests do (refused by default since the trust work).
        "SNAPFIX_WEBHOOK_HTTPS_ONLY": "false",
        "SNAPFIX_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    log = (RESULTS / "notify.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock runs
        [sys.executable, "-m", "snapfix_notify"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    load_before = os.getloadavg()[0]
    try:
        if not wait_ready(f"http://127.0.0.1:{port}", proc, timeout_s=120):
            raise RuntimeError("notify did not start; see bench/results/notify.log")
        result = await email_phase(stack, mailbox, proc.pid, events)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            result["webhooks"] = await webhook_phase(stack, http, proc.pid, webhook_events)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        mailbox.stop()
    result["load_avg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["cpus"] = os.cpu_count()
    return result


def main() -> None:
    events = int(os.environ.get("BENCH_NOTIFY_EVENTS", "500"))
    webhook_events = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "1000"))
    result = asyncio.run(bench(events, webhook_events))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
