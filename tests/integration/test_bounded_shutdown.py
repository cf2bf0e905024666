"""SIGTERM under load with hanging dependencies: the process is gone within 20 s, abandons what
is in flight (uncommitted, not finished) and, once restarted, does all of it exactly once.

A notify process sends through an SMTP server that accepts connections and never answers
(every send hangs until the SMTP timeout, 30 s here) and reaches its store through a proxy
that is then cut like a paused server (the consumer of the second burst is in its retry
loop). Then SIGTERM: the process must exit within 20 s, cleanly, with the second burst left
uncommitted. Restarted with a working mail server and store, every email arrives exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from uuid_utils.compat import uuid7

from snapfix_shared.messages import IssueReported, Location, MediaProcessed, MediaVariant, Message, ProcessMedia
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.integration.notify_app import (
    new_user_id,
    notify_settings,
    publish,
    registered,
    reported,
    start_groups_at_end,
)
from tests.mailbox import Mailbox
from tests.stack import ROOT, Stack, free_port, process_env, wait_caught_up, wait_ready
from tests.stack import start_groups_at_end as groups_at_end

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EXIT_BOUND_S = 20.0
FIRST, SECOND = 12, 8  # reports whose emails hang at SIGTERM; reports whose consumer is retrying


class HangingSmtp:
    """Accepts connections and never says a word (an SMTP server that stopped answering)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)

    async def __aenter__(self) -> HangingSmtp:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        for writer in self._held:
            writer.close()
        assert self._server is not None
        self._server.close()


class StoreProxy:
    """A TCP proxy to the Mongo-wire server that can be cut: it then swallows every byte and
    answers nothing, as a paused server would (requests time out on the client's side)."""

    def __init__(self, target: str) -> None:
        self.host, _, port = target.rpartition(":")
        self.target_port = int(port)
        self.port = free_port()
        self.cut = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not self.cut:
                    writer.write(data)
                    await writer.drain()
        writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:  # held open, never answered
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(65536):
                    pass
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        for task in (self._pump(reader, up_writer), self._pump(up_reader, writer)):
            t = asyncio.create_task(task)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> StoreProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        assert self._server is not None
        self._server.close()


def _spawn(env: dict[str, str], log: Path, module: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def until(condition: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.2)
    return await condition()


@asynccontextmanager
async def started(
    env: dict[str, str], log: Path, module: str = "snapfix_notify"
) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = _spawn(env, log, module)
    try:
        url = f"http://127.0.0.1:{env['SNAPFIX_HTTP_PORT']}"
        if not await asyncio.to_thread(wait_ready, url, proc, 120):
            pytest.fail(f"{module} did not become ready (exit code {proc.poll()}):\n{_tail(log)}", pytrace=False)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)


async def retries_seen(port: int) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(v) for v in re.findall(r"^snapfix_transient_retries_total\{[^}]*\} (\S+)", metrics, re.M))


async def offsets(stack: Stack, group: str, topic: str) -> tuple[dict[Any, int], dict[Any, int]]:
    """(the topic's end offsets, the group's committed offsets) per partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"no partitions known for {topic}"
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return dict(ends), {tp: max(committed[tp].offset, 0) if tp in committed else 0 for tp in partitions}
    finally:
        await consumer.stop()
        await admin.close()


async def lag(stack: Stack, group: str, topic: str, until: dict[Any, int] | None = None) -> int:
    """How many records of ``topic`` (up to the offsets ``until``, else its end) ``group`` has not committed."""
    ends, committed = await offsets(stack, group, topic)
    return sum(max(0, end - committed[tp]) for tp, end in (until or ends).items())


def received(mailbox: Mailbox) -> list[Any]:
    return [s for s in mailbox.summary() if "We received" in s.subject]


async def test_sigterm_with_hung_sends_and_a_retrying_consumer_exits_in_time_and_loses_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    mailbox = Mailbox().start()
    try:
        async with HangingSmtp() as smtp, StoreProxy(urlparse(stack.mongo_url).netloc) as proxy:
            settings = notify_settings(stack, mailbox)
            await start_groups_at_end(stack.kafka, settings)
            port = free_port()
            base = {
                "SNAPFIX_MONGO_DATABASE": settings.mongo_database,
                "SNAPFIX_NOTIFY_USERS_GROUP": settings.notify_users_group,
                "SNAPFIX_NOTIFY_ISSUES_GROUP": settings.notify_issues_group,
                "SNAPFIX_WEBHOOKS_GROUP": settings.webhooks_group,
                "SNAPFIX_SEND_CONCURRENCY": "8",
                "SNAPFIX_POLL_INTERVAL_S": "0.2",
                "SNAPFIX_RETRY_BASE_S": "0.2",
                "SNAPFIX_RETRY_MAX_S": "1",
                "SNAPFIX_LEASE_S": "3",  # a cut send is due again soon after the restart
                "SNAPFIX_LOG_LEVEL": "WARNING",
            }
            hanging = process_env(
                stack,
                port,
                {
                    **base,
                    "SNAPFIX_MONGO_URL": f"mongodb://127.0.0.1:{proxy.port}/",
                    "SNAPFIX_MONGO_TIMEOUT_MS": "2000",
                    "NOTIFY_SMTP_HOST": "127.0.0.1",
                    "NOTIFY_SMTP_PORT": str(smtp.port),
                    "NOTIFY_SMTP_TIMEOUT_S": "30",  # a send left to finish would hold the stop 30 s
                },
            )
            log = tmp_path / "notify.log"
            reporters = [new_user_id() for _ in range(FIRST + SECOND)]
            first = [reported(r) for r in reporters[:FIRST]]
            second = [reported(r) for r in reporters[FIRST:]]
            async with started(hanging, log) as proc:
                await publish(stack.kafka, Topic.USERS_EVENTS, [registered(r) for r in reporters])
                await publish(stack.kafka, Topic.ISSUES_EVENTS, first)
                # The first burst is recorded and committed; its sends hang on the mail server.
                await wait_caught_up(stack.kafka, settings.notify_issues_group, Topic.ISSUES_EVENTS, timeout_s=60)

                async def sending() -> bool:
                    return smtp.connections > 0

                assert await until(sending, 30), "no send reached the mail server"

                # The store stops answering: the second burst's consumer retries.
                proxy.cut = True
                before = await retries_seen(port)
                await publish(stack.kafka, Topic.ISSUES_EVENTS, second)

                async def retrying() -> bool:
                    return await retries_seen(port) > before

                assert await until(retrying, 30), "the consumer is not retrying"

                proc.send_signal(signal.SIGTERM)
                sent_at = time.monotonic()
                try:
                    await asyncio.to_thread(proc.wait, 45)
                except subprocess.TimeoutExpired:
                    pytest.fail("notify did not exit within 45 s of SIGTERM")
                took = time.monotonic() - sent_at
                tail = _tail(log)
                assert took <= EXIT_BOUND_S, f"notify took {took:.1f} s to exit after SIGTERM:\n{tail}"
                # uvicorn re-raises the SIGTERM it caught once it has shut down: -15, or 0.
                assert proc.returncode in {0, -signal.SIGTERM}, f"exit code {proc.returncode}:\n{tail}"
                assert "did not stop within" not in _tail(log, 400), "the stop ran past its budget and was cut"
                print(f"notify exited {took:.1f} s after SIGTERM")
            # Abandoned, not finished: the retrying batch was not committed.
            assert await lag(stack, settings.notify_issues_group, Topic.ISSUES_EVENTS) > 0
            assert not received(mailbox)

            # Restarted with a working mail server and store: everything exactly once.
            working = process_env(
                stack, port, {**base, "NOTIFY_SMTP_HOST": mailbox.host, "NOTIFY_SMTP_PORT": str(mailbox.port)}
            )
            async with started(working, log) as proc:

                async def all_arrived() -> bool:
                    return len(received(mailbox)) >= FIRST + SECOND

                await until(all_arrived, 60)
                await mailbox.settle(quiet_s=4, timeout_s=30)  # a lapsed lease would repeat one now
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)
            emails = received(mailbox)
            to = Counter(parseaddr(s.to)[1] for s in emails)
            expected = {registered(r).email for r in reporters}
            assert set(to) == expected, f"missing: {sorted(expected - set(to))[:5]}"
            assert all(n == 1 for n in to.values()), f"repeated: {[a for a, n in to.items() if n > 1]}"
            assert len({s.message_id for s in emails}) == len(emails) == FIRST + SECOND
    finally:
        mailbox.stop()


def _reported_event() -> Message:
    now = utcnow()
    return IssueReported(
        correlation_id=f"stop-{uuid4()}",
        actor_id=str(uuid7()),
        issue_id=uuid7(),
        title="Pothole on the corner",
        category="pothole",
        location=Location(lat=52.52, lon=13.405),
        reported_at=now,
        department="roads",
        due_at=now + timedelta(days=3),
    )


def _process_media() -> Message:
    return ProcessMedia(
        correlation_id=f"stop-{uuid4()}", media_id=uuid7(), owner_id=str(uuid7()), content_type="image/jpeg", size=10
    )


def _media_processed() -> Message:
    variant = MediaVariant(name="thumb.webp", content_type="image/webp", width=10, height=10, size=100)
    return MediaProcessed(
        correlation_id=f"stop-{uuid4()}",
        media_id=uuid7(),
        owner_id=str(uuid7()),
        variants=(variant,),
        width=10,
        height=10,
        phash="00ff",
    )


# (module, the consumer put in a retry: its topic, its group's setting or fixed name, a message
# it stores, and the store that is cut under it)
PROCESSES = {
    "analytics": ("snapfix_analytics", Topic.ISSUES_EVENTS, "SNAPFIX_CONSUMER_GROUP", _reported_event, "mongo"),
    "media": ("snapfix_media", Topic.MEDIA_COMMANDS, "SNAPFIX_CONSUMER_GROUP", _process_media, "mongo"),
    "issues": ("snapfix_issues", Topic.MEDIA_EVENTS, "issues-media", _media_processed, "mongo"),
    "gateway": ("snapfix_gateway", Topic.ISSUES_EVENTS, "gateway-live", _reported_event, "redis"),
}


@pytest.mark.parametrize("name", sorted(PROCESSES))
async def test_sigterm_while_a_consumer_retries_a_store_that_stopped_answering(
    stack: Stack, tmp_path: Path, name: str
) -> None:
    """Each consuming service, its store cut under a burst: gone within 20 s, the burst uncommitted,
    and taken up whole by the next process."""
    module, topic, group_setting, message, store = PROCESSES[name]
    tag = uuid4().hex[:8]
    group = f"{name}-stop-{tag}" if group_setting.startswith("SNAPFIX_") else group_setting
    await groups_at_end(stack.kafka, {group: topic})
    port = free_port()
    base = {
        "SNAPFIX_MONGO_DATABASE": f"snapfix_{name}_stop_{tag}",
        "SNAPFIX_CONSUMER_GROUP": f"{name}-stop-{tag}",
        "SNAPFIX_ISSUES_EVENTS_GROUP": f"{name}-issues-stop-{tag}",
        "SNAPFIX_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / f"{name}.log"
    url = urlparse(stack.mongo_url if store == "mongo" else stack.redis_url)
    async with StoreProxy(url.netloc) as proxy:
        through_proxy = url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        cut_env = process_env(
            stack,
            port,
            {
                **base,
                f"SNAPFIX_{store.upper()}_URL": through_proxy,
                "SNAPFIX_MONGO_TIMEOUT_MS": "1500",
            },
        )
        async with started(cut_env, log, module) as proc:
            proxy.cut = True
            before = await retries_seen(port)
            messages = [message() for _ in range(20)]
            await publish(stack.kafka, topic, messages)
            burst_end, _ = await offsets(stack, group, topic)

            async def retrying() -> bool:
                return await retries_seen(port) > before

            assert await until(retrying, 30), f"{name}: the consumer is not retrying"
            proc.send_signal(signal.SIGTERM)
            sent_at = time.monotonic()
            try:
                await asyncio.to_thread(proc.wait, 45)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not exit within 45 s of SIGTERM")
            took = time.monotonic() - sent_at
            assert took <= EXIT_BOUND_S, f"{name} took {took:.1f} s to exit after SIGTERM:\n{_tail(log)}"
            assert proc.returncode in {0, -signal.SIGTERM}, f"exit code {proc.returncode}:\n{_tail(log)}"
            print(f"{name} exited {took:.1f} s after SIGTERM")
        assert await lag(stack, group, topic, burst_end) > 0, f"{name} committed what it could not store"
    # The next process takes the whole burst up.
    async with started(process_env(stack, port, base), log, module) as proc:

        async def taken_up() -> bool:
            return await lag(stack, group, topic, burst_end) == 0

        assert await until(taken_up, 60), f"{name}: the burst was not taken up after the restart"
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
