"""A notify process killed with SIGKILL in the middle of a burst of 1,000 events loses nothing and
repeats at most the sends that were in flight (each repeat carries the same Message-ID).

The burst: 1,000 public comments (by someone who is told nothing) on 20 reports, each with a
reporter and a follower who chose email: 2,000 emails expected. The process is killed once
some have arrived and started again; every (event, recipient) email must arrive.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import httpx
import pytest
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueCommented, IssueFollowed
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
from tests.mailbox import Mailbox, body_text
from tests.stack import ROOT, Stack, free_port, process_env, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EVENTS, ISSUES = 1_000, 20
SEND_CONCURRENCY = 32


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "snapfix_notify"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def _ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    if not wait_ready(url, proc, timeout_s=120):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        pytest.fail(f"notify did not become ready (exit code {proc.poll()}):\n{tail}", pytrace=False)


def _comment_number(message: Any) -> int:
    found = re.search(r"comment (\d+)", body_text(message))
    assert found is not None
    return int(found.group(1))


def comment_emails(mailbox: Mailbox) -> list[Any]:
    return [s for s in mailbox.summary() if s.subject.startswith("New comment")]


async def wait_count(mailbox: Mailbox, count: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(comment_emails(mailbox)) >= count:
            break
        await asyncio.sleep(0.1)
    return len(comment_emails(mailbox))


async def test_sigkill_in_a_burst_loses_no_email_and_repeats_at_most_the_sends_in_flight(
    stack: Stack, tmp_path: Path
) -> None:
    mailbox = Mailbox().start()
    proc: subprocess.Popen[bytes] | None = None
    try:
        settings = notify_settings(stack, mailbox, send_concurrency=SEND_CONCURRENCY)
        await start_groups_at_end(stack.kafka, settings)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = process_env(
            stack,
            port,
            {
                "SNAPFIX_MONGO_DATABASE": settings.mongo_database,
                "SNAPFIX_NOTIFY_USERS_GROUP": settings.notify_users_group,
                "SNAPFIX_NOTIFY_ISSUES_GROUP": settings.notify_issues_group,
                "SNAPFIX_WEBHOOKS_GROUP": settings.webhooks_group,
                "SNAPFIX_SEND_CONCURRENCY": str(SEND_CONCURRENCY),
                "SNAPFIX_POLL_INTERVAL_S": "0.3",
                "SNAPFIX_RETRY_BASE_S": "0.2",
                "SNAPFIX_RETRY_MAX_S": "1",
                # A send claimed by the killed process is retried once its lease lapses (after the SMTP timeout).
                "SNAPFIX_LEASE_S": "6",
                "NOTIFY_SMTP_TIMEOUT_S": "3",
                "NOTIFY_SMTP_HOST": mailbox.host,
                "NOTIFY_SMTP_PORT": str(mailbox.port),
                "SNAPFIX_LOG_LEVEL": "WARNING",
                # FerretDB scans a collection per update: on a busy machine a delete of a batch takes seconds.
                "SNAPFIX_MONGO_TIMEOUT_MS": "15000",
            },
        )
        log = tmp_path / "notify.log"
        proc = _start(env, log)
        _ready(url, proc, log)

        reporter, follower = new_user_id(), new_user_id()
        await publish(stack.kafka, Topic.USERS_EVENTS, [registered(reporter), registered(follower)])
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for user, moment in ((reporter, "comment_added"), (follower, "followed_comment_added")):
                # Email only, so the burst measures exactly one message per (event, recipient).
                body = {"moments": {moment: {"email": True, "in_app": False}}}
                changed = await http.put(
                    "/v1/me/notification-preferences", json=body, headers=as_viewer(user, "citizen")
                )
                assert changed.status_code == 200, changed.text
        reports = [reported(reporter) for _ in range(ISSUES)]
        follows = [IssueFollowed(**envelope(actor_id=follower), issue_id=r.issue_id, follow=True) for r in reports]
        await publish(stack.kafka, Topic.ISSUES_EVENTS, [*reports, *follows])
        await mailbox.wait_for(lambda m: "We received" in str(m["Subject"]), count=ISSUES, timeout_s=60)

        commenter = new_user_id()
        burst = [
            IssueCommented(
                **envelope(actor_id=commenter),
                issue_id=reports[n % ISSUES].issue_id,
                comment_id=uuid7(),
                body=f"comment {n}",
                commented_at=utcnow(),
            )
            for n in range(EVENTS)
        ]
        await publish(stack.kafka, Topic.ISSUES_EVENTS, burst)

        before_kill = await wait_count(mailbox, 300, timeout_s=60)
        assert 0 < before_kill < 2 * EVENTS, f"{before_kill} emails before the kill: not in the middle"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        proc = _start(env, log)
        _ready(url, proc, log)
        expected = 2 * EVENTS
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if len({m.message_id for m in comment_emails(mailbox)}) >= expected:
                break
            await asyncio.sleep(0.2)
        await mailbox.settle(quiet_s=8, timeout_s=30)  # a lapsed lease may still repeat one

        emails = mailbox.matching(lambda m: str(m["Subject"]).startswith("New comment"))
        ids = Counter(m["Message-ID"] for m in emails)
        arrived = {(parseaddr(str(m["To"]))[1], _comment_number(m)) for m in emails}
        addresses = {registered(reporter).email, registered(follower).email}
        missing = {(a, n) for a in addresses for n in range(EVENTS)} - arrived
        assert not missing, (
            f"{len(missing)} emails lost ({before_kill} had arrived before the kill): {sorted(missing)[:5]}"
        )
        assert len(ids) == expected
        repeats = sum(n - 1 for n in ids.values())
        assert repeats <= SEND_CONCURRENCY, f"{repeats} repeated emails; at most {SEND_CONCURRENCY} were in flight"
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        mailbox.stop()
