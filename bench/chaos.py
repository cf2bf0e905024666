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
import contextlib
import io
import json
import os
import random
import signal
import ssl
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from PIL import Image
from pymongo import AsyncMongoClient

from snapfix_shared.messages import ISSUE_EVENTS, IssueEvent
from snapfix_shared.topics import Topic
from tests.analytics_history import expected as expected_from_events
from tests.stack import load_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FAULTS = ("broker", "issues", "media", "notify", "analytics", "redis", "store", "gateway")
CONSUMERS = ("issues", "media", "notify", "analytics")
PASSWORD = "violet-harbour-71-lantern"
CITIZENS = int(os.environ.get("CHAOS_CITIZENS", "8"))
CALM_S = float(os.environ.get("CHAOS_CALM_S", "15"))  # steady load before the first fault and after each
SETTLE_S = float(os.environ.get("CHAOS_SETTLE_S", "10"))  # after a recovery, still inside the fault window
PAUSE_S = float(os.environ.get("CHAOS_PAUSE_S", "30"))  # the Mongo-wire server's SIGSTOP
DOWN_S = 10.0  # a killed broker or gateway stays down this long
DRAIN_S = 300.0  # consumers catching up and mail arriving, at most
AVAILABILITY_TARGET = 0.999
# Categories and the departments that own them (the catalogue's), and their staff's moves.
CATEGORIES = {"pothole": "roads", "sidewalk": "roads", "streetlight": "lighting"}
SUBJECTS = {
    "report_received": "We received your report: {title}",
    "acknowledged": "Your report was acknowledged: {title}",
    "in_progress": "Your report is in progress: {title}",
    "resolved": "Resolved: {title} (is it fixed?)",
    "comment_added": "New comment on your report: {title}",
}
MEASURES = ("reported", "acknowledged", "in_progress", "resolved")


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- the stack


class LocalStack:
    """The running stack of a profile: which process is which, how to kill it and bring it back."""

    def __init__(self, profile: str) -> None:
        self.mod = load_script("deploy/local/stack.py", "snapfix_local_stack")
        home = self.mod.STACK / profile
        nodes = int((home / "kafka-nodes").read_text())
        store = (home / "store").read_text().strip()
        self.layout = self.mod.Layout(profile, nodes, store=store)
        self.kills = 0

    @property
    def dir(self) -> Path:
        return Path(self.layout.dir)

    @property
    def edge_url(self) -> str:
        return str(self.mod.edge_url(self.layout))

    @property
    def ca(self) -> Path:
        return self.dir / "edge" / "tls" / "ca.pem"

    @property
    def mail(self) -> Path:
        return self.dir / "mail"

    def pid(self, name: str, home: Path) -> int:
        pid = self.mod.pid_alive(home / f"{name}.pid")
        if pid is None:
            raise RuntimeError(f"{name} is not running (no live pid in {home})")
        return int(pid)

    def kill(self, name: str, home: Path) -> int:
        """SIGKILL the process and its group (as a container dies), reaped, its pid file gone."""
        pid = self.pid(name, home)
        os.killpg(pid, signal.SIGKILL)
        self.kills += 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # ours when we restarted it earlier
                os.waitpid(pid, os.WNOHANG)
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state == "Z":  # dead; its parent (not us) reaps it
                break
            time.sleep(0.05)
        (home / f"{name}.pid").unlink(missing_ok=True)
        return pid

    def apps_home(self) -> Path:
        return self.dir / "apps"

    def start_apps(self) -> None:
        """Starts whatever of the five processes (and the second gateway) is not running; waits for all."""
        self.mod.start_apps(self.layout)
        if self.mod.pid_alive(self.apps_home() / "gateway-2.pid") is None:
            self.mod.start_edge(self.layout)

    def kafka_leader(self, topic: str, partition: int) -> int:
        async def leader() -> int:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.layout.bootstrap)
            await consumer.start()
            try:
                await consumer._client.force_metadata_update()
                node = consumer._client.cluster.leader_for_partition(TopicPartition(topic, partition))
                return int(node) if node is not None and node >= 0 else 1
            finally:
                await consumer.stop()

        return asyncio.run(leader())


# --------------------------------------------------------------------------- the ledger


@dataclass
class Attempt:
    start: float
    end: float
    status: int  # 0: no answer (refused, cut, timed out)
    what: str


@dataclass
class Report:
    id: str
    title: str
    category: str
    reporter: int
    media_ids: list[str]
    at: float  # when its 202 came (monotonic)


@dataclass
class Ledger:
    run: str
    t0: float = field(default_factory=time.monotonic)
    attempts: list[Attempt] = field(default_factory=list)
    reports: dict[str, Report] = field(default_factory=dict)  # 202s
    photos: dict[str, int] = field(default_factory=dict)  # media id -> owner, upload answered 202
    comments: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id -> (issue, author, body)
    votes: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # issue -> voters
    transitions: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    accepted: Counter[str] = field(default_factory=Counter)  # kind -> 202s
    unanswered: Counter[str] = field(default_factory=Counter)  # kind -> no definite answer after retries
    refused: Counter[str] = field(default_factory=Counter)  # "kind status" -> final non-202 answers
    last_answer: dict[str, str] = field(default_factory=dict)  # report title -> the last answer, without a 202
    windows: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def title(self) -> str:
        self.counter += 1
        return f"Chaos {self.run} {self.counter:05d}"


@dataclass
class Person:
    index: int
    email: str
    client: httpx.AsyncClient
    user_id: str = ""


class Load:
    """The steady mix: citizens report (some with a photo), comment, vote and read; staff move reports along."""

    def __init__(self, stack: LocalStack, ledger: Ledger, photo: bytes) -> None:
        self.stack, self.ledger, self.photo = stack, ledger, photo
        self.tls = ssl.create_default_context(cafile=str(stack.ca))
        self.citizens: list[Person] = []
        self.staff: dict[str, Person] = {}
        self.admin: httpx.AsyncClient | None = None
        self.queues: dict[str, list[tuple[float, str, list[str]]]] = {d: [] for d in set(CATEGORIES.values())}
        self.stop = asyncio.Event()
        self.rng = random.Random(15)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.stack.edge_url, verify=self.tls, timeout=10)

    async def request(
        self, client: httpx.AsyncClient, method: str, path: str, what: str, *, retries: int = 3, **kwargs: Any
    ) -> httpx.Response | None:
        """One request, retried as a phone retries (same Idempotency-Key) on no answer, 5xx, 409 in progress, 429."""
        headers = dict(kwargs.pop("headers", {}))
        if method in {"POST", "PUT", "DELETE"} and not path.startswith("/v1/media/"):
            headers["idempotency-key"] = str(uuid4())
        response: httpx.Response | None = None
        for attempt in range(retries + 1):
            start = time.monotonic()
            try:
                response = await client.request(method, path, headers=headers, **kwargs)
                status = response.status_code
            except httpx.HTTPError:
                response, status = None, 0
            self.ledger.attempts.append(Attempt(start, time.monotonic(), status, what))
            again = (
                status == 0
                or status >= 500
                or status == 429
                or (status == 409 and "retry-after" in headers_of(response))
            )
            if not again or attempt == retries or self.stop.is_set():
                break
            await asyncio.sleep(0.5 * 2**attempt + self.rng.uniform(0, 0.3))
        return response

    def outcome(self, kind: str, response: httpx.Response | None) -> bool:
        if response is None or response.status_code >= 500:
            self.ledger.unanswered[kind] += 1
            return False
        if response.status_code != 202:
            self.ledger.refused[f"{kind} {response.status_code}"] += 1
            return False
        self.ledger.accepted[kind] += 1
        return True

    # -- set-up

    async def sign_in(self, email: str, password: str) -> httpx.AsyncClient:
        client = self.client()
        form = {"grant_type": "password", "username": email, "password": password}
        response = await client.post("/v1/auth/token", data=form)
        response.raise_for_status()
        client.headers["authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    async def set_up(self, mongo_url: str) -> None:
        admin_password = (self.stack.dir / "admin-password").read_text().strip()
        self.admin = await self.sign_in(self.stack.mod.ADMIN_EMAIL, admin_password)
        async with self.client() as anonymous:
            for i in range(CITIZENS):
                email = f"chaos-{self.ledger.run}-{i}@example.org"
                body = {"email": email, "password": PASSWORD, "display_name": f"Citizen {i}"}
                (await anonymous.post("/v1/auth/register", json=body)).raise_for_status()
                person = Person(i, email, await self.sign_in(email, PASSWORD))
                person.user_id = (await person.client.get("/v1/me")).json()["id"]
                self.citizens.append(person)
        for n, department in enumerate(sorted(set(CATEGORIES.values()))):
            email = f"chaos-{self.ledger.run}-staff-{department}@city.example"
            crew = {"email": email, "password": PASSWORD, "display_name": "Crew", "departments": [department]}
            (await self.admin.post("/v1/admin/users", json=crew)).raise_for_status()
            person = Person(100 + n, email, await self.sign_in(email, PASSWORD))
            person.user_id = (await person.client.get("/v1/me")).json()["id"]
            self.staff[department] = person
        # Uploads need a verified address: verified as the emailed link would (tests/e2e/api.py does the same).
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
        try:
            ids = [UUID(p.user_id) for p in self.citizens]
            await mongo["snapfix_gateway"]["accounts"].update_many(
                {"_id": {"$in": ids}}, {"$set": {"email_verified": True, "verify_token_hash": None}}
            )
        finally:
            await mongo.close()

    async def close(self) -> None:
        for person in [*self.citizens, *self.staff.values()]:
            await person.client.aclose()
        if self.admin is not None:
            await self.admin.aclose()

    # -- the work

    async def citizen(self, me: Person) -> None:
        rng = random.Random(me.index)
        while not self.stop.is_set():
            roll = rng.random()
            if roll < 0.3:
                await self.report(me, with_photo=rng.random() < 0.3)
            elif roll < 0.45:
                await self.comment(me, rng)
            elif roll < 0.6:
                await self.vote(me, rng)
            else:
                await self.read(me, rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), rng.uniform(0.8, 2.0))

    async def report(self, me: Person, *, with_photo: bool) -> None:
        media_ids: list[str] = []
        if with_photo:
            media_id = await self.upload(me)
            if media_id is None:
                return
            media_ids.append(media_id)
        category = random.choice(list(CATEGORIES))
        title = self.ledger.title()
        lat, lon = 52.52 + random.uniform(-0.02, 0.02), 13.405 + random.uniform(-0.02, 0.02)
        body: dict[str, Any] = {
            "title": title,
            "description": "Seen on the way to work",
            "category": category,
            "lat": lat,
            "lon": lon,
        }
        if media_ids:
            body["media_ids"] = media_ids
        response = await self.request(me.client, "POST", "/v1/issues", "report", json=body)
        if not self.outcome("report", response):
            self.ledger.last_answer[title] = str(response.status_code) if response is not None else "no answer"
        else:
            assert response is not None
            issue = str(response.json()["id"])
            self.ledger.reports[issue] = Report(issue, title, category, me.index, media_ids, time.monotonic())
            steps = ["acknowledged"] + (["in_progress"] if random.random() < 0.5 else [])
            steps += ["resolved"] if random.random() < 0.7 else []
            self.queues[CATEGORIES[category]].append((time.monotonic() + random.uniform(2, 6), issue, steps))

    async def upload(self, me: Person) -> str | None:
        ticket = await self.request(
            me.client, "POST", "/v1/media", "media", json={"content_type": "image/jpeg", "size": len(self.photo)}
        )
        if ticket is None or ticket.status_code != 201:
            self.ledger.refused[f"media-ticket {ticket.status_code if ticket else 0}"] += 1
            return None
        issued = ticket.json()
        parts = urlsplit(issued["upload_url"])
        put = await self.request(
            me.client, "PUT", f"{parts.path}?{parts.query}", "upload", retries=0, content=self.photo
        )
        if not self.outcome("photo", put):
            return None
        self.ledger.photos[str(issued["id"])] = me.index
        return str(issued["id"])

    def others_report(self, me: Person, rng: random.Random) -> Report | None:
        reports = [r for r in list(self.ledger.reports.values())[-200:] if r.reporter != me.index]
        return rng.choice(reports) if reports else None

    async def comment(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        if target is None:
            return
        body = f"Chaos comment {self.ledger.run} {uuid4().hex[:12]}"
        response = await self.request(
            me.client, "POST", f"/v1/issues/{target.id}/comments", "comment", json={"body": body}
        )
        if self.outcome("comment", response):
            assert response is not None
            self.ledger.comments[str(response.json()["id"])] = (target.id, me.index, body)

    async def vote(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        if target is None or me.index in self.ledger.votes[target.id]:
            return
        response = await self.request(me.client, "POST", f"/v1/issues/{target.id}/vote", "vote")
        if self.outcome("vote", response):
            self.ledger.votes[target.id].add(me.index)

    async def read(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        roll = rng.random()
        if target is not None and roll < 0.5:
            await self.request(me.client, "GET", f"/v1/issues/{target.id}", "read issue", retries=0)
        elif roll < 0.8:
            params = {"lat": 52.52, "lon": 13.405, "radius_m": 3000}
            await self.request(me.client, "GET", "/v1/issues", "read nearby", retries=0, params=params)
        else:
            await self.request(me.client, "GET", "/v1/me", "read me", retries=0)

    async def crew(self, department: str) -> None:
        """Staff take their department's reports one step at a time, a few seconds apart."""
        me, queue = self.staff[department], self.queues[department]
        while not self.stop.is_set():
            now = time.monotonic()
            due = next((item for item in queue if item[0] <= now), None)
            if due is not None:
                queue.remove(due)
                _, issue, steps = due
                to, rest = steps[0], steps[1:]
                note = f"Chaos step {self.ledger.run} {uuid4().hex[:12]}"
                response = await self.request(
                    me.client, "POST", f"/v1/issues/{issue}/transitions", "transition", json={"to": to, "note": note}
                )
                if response is not None and response.status_code == 404:
                    # Not readable yet (its report is still on its way through a fault): later.
                    self.ledger.refused["transition 404 (tried again later)"] += 1
                    queue.append((time.monotonic() + 5, issue, steps))
                elif self.outcome("transition", response):
                    self.ledger.transitions[issue].append((to, note))
                    if rest:
                        queue.append((time.monotonic() + random.uniform(3, 8), issue, rest))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.3)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def headers_of(response: httpx.Response | None) -> httpx.Headers:
    return response.headers if response is not None else httpx.Headers()


def small_photo() -> bytes:
    image = Image.new("RGB", (640, 480), (40, 110, 190))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# --------------------------------------------------------------------------- faults


class Faults:
    def __init__(self, stack: LocalStack, ledger: Ledger) -> None:
        self.stack, self.ledger = stack, ledger

    async def run(self, name: str) -> None:
        actions: dict[str, Callable[[], Awaitable[str]]] = {
            "broker": self.broker,
            "redis": self.redis,
            "store": self.store,
            "gateway": self.gateway,
        }
        start = time.monotonic()
        load_before = os.getloadavg()[0]
        try:
            detail = await (actions[name]() if name in actions else self.consumer(name))
            recovered: float | None = time.monotonic()
        except Exception as exc:  # a fault that did not recover is a finding, reported as such
            detail, recovered = f"did not recover: {exc!r}"[:500], None
        log(f"{name}: {detail}")
        await asyncio.sleep(SETTLE_S)
        self.ledger.windows.append(
            {
                "fault": name,
                "detail": detail,
                "start": start,
                "end": time.monotonic(),
                "recovery_s": round(recovered - start, 1) if recovered is not None else None,
                "load_average_1m": round(load_before, 2),
            }
        )

    async def broker(self) -> str:
        node = await asyncio.to_thread(self.stack.kafka_leader, Topic.ISSUES_COMMANDS, 0)
        home = self.stack.dir / f"kafka-{node}"
        pid = self.stack.kill("kafka", home)
        log(f"broker: SIGKILL kafka node {node} (pid {pid}, leader of {Topic.ISSUES_COMMANDS}[0])")
        await asyncio.sleep(DOWN_S)
        try:
            await asyncio.to_thread(self.stack.mod.start_kafka, self.stack.layout, node)
        except self.stack.mod.StepFailed:  # its 90 s passed: a loaded machine may need longer
            await self.until(lambda: bool(self.stack.mod.kafka_answers(self.stack.layout)), 180, f"kafka node {node}")
        return f"SIGKILL of kafka node {node} (leader of {Topic.ISSUES_COMMANDS}[0]), back after {DOWN_S:.0f} s"

    async def until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not await asyncio.to_thread(check):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not back within {timeout_s:.0f} s more")
            await asyncio.sleep(2)

    async def consumer(self, app: str) -> str:
        pid = self.stack.kill(app, self.stack.apps_home())
        log(f"{app}: SIGKILL (pid {pid}); restarting")
        await asyncio.to_thread(self.stack.start_apps)
        return f"SIGKILL of {app}, restarted at once"

    async def redis(self) -> str:
        """A persistent Redis's restart: SHUTDOWN SAVE writes everything it holds and exits in one step.

        (stack.py's stop, SAVE and then SIGTERM, loses what is written between the two: a crash's
        loss of its last writes, which is another fault than a restart.)"""
        home = self.stack.dir / "redis"
        pid = self.stack.pid("redis", home)
        cli = str(Path(self.stack.mod.redis_bin()).with_name("redis-cli"))
        log(f"redis: SHUTDOWN SAVE (pid {pid}), start again")
        await asyncio.to_thread(
            subprocess.run,
            [cli, "-p", str(self.stack.layout.redis_port), "shutdown", "save"],
            check=False,
            capture_output=True,
            timeout=30,
        )
        await self.until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 30, "redis exit")
        (home / "redis.pid").unlink(missing_ok=True)
        await asyncio.sleep(2)
        await asyncio.to_thread(self.stack.mod.start_redis, self.stack.layout)
        return "Redis restarted (SHUTDOWN SAVE, as a persistent Redis stops; down about 2 s)"

    async def store(self) -> str:
        pid = self.stack.pid("ferretdb", self.stack.dir / "ferretdb")
        os.kill(pid, signal.SIGSTOP)
        log(f"store: SIGSTOP FerretDB (pid {pid}) for {PAUSE_S:.0f} s")
        try:
            await asyncio.sleep(PAUSE_S)
        finally:
            os.kill(pid, signal.SIGCONT)
        return f"SIGSTOP of the Mongo-wire server for {PAUSE_S:.0f} s, then SIGCONT"

    async def gateway(self) -> str:
        pid = self.stack.kill("gateway", self.stack.apps_home())
        log(f"gateway: SIGKILL of gateway 1 of 2 (pid {pid})")
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(self.stack.start_apps)
        return f"SIGKILL of one of the two gateways behind nginx, restarted after {DOWN_S:.0f} s"


# --------------------------------------------------------------------------- checks


async def caught_up(bootstrap: str, timeout_s: float) -> dict[str, int]:
    """Waits until every consumer group has committed everything of the topics it reads; the lags left."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    lags: dict[str, int] = {}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            lags = {}
            groups = [g[0] for g in await admin.list_consumer_groups()]
            for group in groups:
                committed = await admin.list_consumer_group_offsets(group)
                topics = {tp.topic for tp in committed}
                partitions = [
                    TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
                ]
                if not partitions:
                    await consumer._client.force_metadata_update()
                    continue
                ends = await consumer.end_offsets(partitions)
                lag = sum(
                    end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                    for tp, end in ends.items()
                )
                lags[group] = lag
            if (lags and not any(lags.values())) or time.monotonic() > deadline:
                return lags
            await asyncio.sleep(1)
    finally:
        await consumer.stop()
        await admin.close()


def mail_summary(folder: Path, since_ns: int) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], set[str]]]:
    """(to, subject) -> messages received, and -> their distinct Message-IDs."""
    total: Counter[tuple[str, str]] = Counter()
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in folder.glob("*.eml"):
        if int(path.name.split("-", 1)[0]) < since_ns:
            continue
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        to = str(message["To"]).rsplit("<", 1)[-1].rstrip(">").strip().lower()
        key = (to, str(message["Subject"]))
        total[key] += 1
        ids[key].add(str(message["Message-ID"]))
    return total, ids


async def issue_events(bootstrap: str) -> tuple[list[IssueEvent], int]:
    """Every event of issues.events.v1, in each partition's order, each message id once; and the repeats."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    events: list[IssueEvent] = []
    seen: set[UUID] = set()
    repeats = 0
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(Topic.ISSUES_EVENTS, p) for p in consumer.partitions_for_topic(Topic.ISSUES_EVENTS) or ()
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        done: set[TopicPartition] = {tp for tp, end in ends.items() if end == 0}
        while len(done) < len(partitions):
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    event = ISSUE_EVENTS.validate_json(record.value or b"")
                    if event.message_id in seen:
                        repeats += 1
                    else:
                        seen.add(event.message_id)
                        events.append(event)
                    if record.offset + 1 >= ends[tp]:
                        done.add(tp)
    finally:
        await consumer.stop()
    return events, repeats


def share(attempts: list[Attempt]) -> float | None:
    return round(sum(1 for a in attempts if 0 < a.status < 500) / len(attempts), 5) if attempts else None


async def check(load: Load, stack: LocalStack, ledger: Ledger, started_at: datetime, mail_since: int) -> dict[str, Any]:
    env = os.environ
    bootstrap, mongo_url = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], env["SNAPFIX_MONGO_URL"]
    figures: dict[str, Any] = {}
    misses: list[str] = []

    # -- availability
    windows = [(w["start"], w["end"]) for w in ledger.windows]
    inside = [a for a in ledger.attempts if any(a.start < e and a.end > s for s, e in windows)]
    outside = [a for a in ledger.attempts if not any(a.start < e and a.end > s for s, e in windows)]
    availability = share(outside)
    figures["availability"] = {
        "requests": len(ledger.attempts),
        "outside_windows": len(outside),
        "outside_non_5xx_share": availability,
        "outside_failures": Counter(f"{a.what} {a.status}" for a in outside if not 0 < a.status < 500),
        "outside_failures_at_s": [
            f"{a.start - ledger.t0:.1f} {a.what} {a.status}" for a in outside if not 0 < a.status < 500
        ][:40],
        "inside_windows": len(inside),
        "inside_non_5xx_share": share(inside),
        "statuses": Counter(str(a.status) for a in ledger.attempts),
    }
    if availability is None or availability < AVAILABILITY_TARGET:
        misses.append(f"availability outside the fault windows {availability} < {AVAILABILITY_TARGET}")
    for window in ledger.windows:
        during = [a for a in ledger.attempts if a.start < window["end"] and a.end > window["start"]]
        window["requests"] = len(during)
        window["non_5xx_share"] = share(during)
        window["no_answer_or_5xx"] = sum(1 for a in during if not 0 < a.status < 500)

    # -- drained
    log("waiting for every consumer group to catch up ...")
    lags = await caught_up(bootstrap, DRAIN_S)
    figures["consumer_lag_at_check"] = lags
    if not lags or any(lags.values()):
        misses.append(f"consumer groups still lagging after {DRAIN_S:.0f} s: {lags}")

    # -- every 202 stored exactly once, read back through the API (as the administrator) and in the store
    assert load.admin is not None
    admin = load.admin
    details: dict[str, dict[str, Any]] = {}
    missing_reports: list[str] = []
    sem = asyncio.Semaphore(6)

    async def read_back(report: Report) -> None:
        async with sem:
            for _ in range(30):  # the read model may trail the store by a moment after a fault
                response = await admin.get(f"/v1/issues/{report.id}")
                if response.status_code == 200:
                    body = response.json()
                    wanted = len(ledger.transitions.get(report.id, ()))
                    if len([h for h in body["history"] if h["note"].startswith("Chaos step")]) >= wanted:
                        details[report.id] = body
                        return
                await asyncio.sleep(1)
            if response.status_code == 200:
                details[report.id] = response.json()
            else:
                missing_reports.append(f"{report.title} ({report.id}): GET {response.status_code}")

    await asyncio.gather(*(read_back(r) for r in ledger.reports.values()))
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
    try:
        pattern = {"$regex": f"^Chaos {ledger.run} "}
        stored = [
            d
            async for d in mongo["snapfix_issues"]["reports"].find(
                {"title": pattern}, {"title": 1, "category": 1, "reporter_id": 1}
            )
        ]
        stored_titles = Counter(d["title"] for d in stored)
        comment_bodies = Counter(
            [
                d["body"]
                async for d in mongo["snapfix_issues"]["comments"].find(
                    {"body": {"$regex": f"^Chaos comment {ledger.run} "}}, {"body": 1}
                )
            ]
        )
        media_docs = (
            {str(d["_id"]): d.get("status") async for d in mongo["snapfix_media"]["media"].find({}, {"status": 1})}
            if "media" in await mongo["snapfix_media"].list_collection_names()
            else {}
        )
    finally:
        await mongo.close()
    accepted_titles = {r.title for r in ledger.reports.values()}
    twice = {t: n for t, n in stored_titles.items() if n > 1}
    at = {r.title: round(r.at - ledger.t0, 1) for r in ledger.reports.values()}
    lost = [f"{t} (202 at {at[t]} s)" for t in sorted(accepted_titles - set(stored_titles))]
    # Stored though the client never saw its 202 (its last answer was a 5xx, a 409 or none): part of
    # the ground truth and of the expected notifications from here on, like every stored report.
    by_user_id = {p.user_id: p.index for p in load.citizens}
    unacknowledged = [
        Report(str(d["_id"]), d["title"], d["category"], by_user_id[d["reporter_id"]], [], 0.0)
        for d in stored
        if d["title"] not in accepted_titles
    ]
    await asyncio.gather(*(read_back(r) for r in unacknowledged))
    everything = [*ledger.reports.values(), *unacknowledged]
    figures["reports"] = {
        "accepted": len(ledger.reports),
        "read_back": len(details),
        "stored": sum(stored_titles.values()),
        "lost": lost[:20],
        "stored_twice": twice,
        "not_readable": missing_reports[:20],
        "stored_without_a_202_seen": len(unacknowledged),
        "their_last_answers": [ledger.last_answer.get(r.title, "?") for r in unacknowledged],
    }
    if lost or twice or missing_reports:
        misses.append(f"reports: {len(lost)} lost, {len(twice)} stored twice, {len(missing_reports)} not readable")

    # comments: each 202 once in its issue's list and once in the store
    comment_misses: list[str] = []
    for comment_id, (issue, _, text) in ledger.comments.items():
        listed = [c for c in details.get(issue, {}).get("comments", []) if c["id"] == comment_id]
        if len(listed) != 1 or comment_bodies[text] != 1:
            comment_misses.append(f"{comment_id}: listed {len(listed)}, stored {comment_bodies[text]}")
    figures["comments"] = {"accepted": len(ledger.comments), "misses": comment_misses[:20]}
    if comment_misses:
        misses.append(f"comments: {len(comment_misses)} not stored exactly once")

    # votes: the count equals the voters who got a 202 (each votes once per report)
    vote_misses = [
        f"{issue}: {details[issue]['votes']} counted, {len(voters)} voted"
        for issue, voters in ledger.votes.items()
        if issue in details and details[issue]["votes"] != len(voters)
    ]
    figures["votes"] = {"accepted": sum(len(v) for v in ledger.votes.values()), "misses": vote_misses[:20]}
    if vote_misses:
        misses.append(f"votes: {len(vote_misses)} reports with a wrong count")

    # transitions: each 202 once in the history, in the order sent
    transition_misses: list[str] = []
    for issue, steps in ledger.transitions.items():
        history = [
            (h["to"], h["note"])
            for h in details.get(issue, {}).get("history", [])
            if h["note"].startswith("Chaos step")
        ]
        if history != steps:
            transition_misses.append(f"{issue}: history {history}, accepted {steps}")
    figures["transitions"] = {
        "accepted": sum(len(s) for s in ledger.transitions.values()),
        "misses": transition_misses[:20],
    }
    if transition_misses:
        misses.append(f"transitions: {len(transition_misses)} histories differ from the 202s")

    # photos: each uploaded photo processed, and on its report
    photo_misses: list[str] = []
    attached = {m: r.id for r in ledger.reports.values() for m in r.media_ids}
    for media_id in ledger.photos:
        status = media_docs.get(media_id)
        on_report = media_id in attached and media_id in [
            str(m) for m in details.get(attached[media_id], {}).get("media_ids", [])
        ]
        if status != "processed" or (media_id in attached and not on_report):
            photo_misses.append(f"{media_id}: {status}, on its report: {on_report}")
    figures["photos"] = {"accepted": len(ledger.photos), "misses": photo_misses[:20]}
    if photo_misses:
        misses.append(f"photos: {len(photo_misses)} not processed or not on their report")

    # -- notifications: the emails the stored state calls for, against what the SMTP sink received
    by_user = {p.user_id: p for p in load.citizens}
    expected: Counter[tuple[str, str]] = Counter()
    for person in [*load.citizens, *load.staff.values()]:
        expected[(person.email, "Confirm your email address for SnapFix")] += 1
    for report in everything:
        body = details.get(report.id)
        if body is None:
            continue
        email = load.citizens[report.reporter].email
        expected[(email, SUBJECTS["report_received"].format(title=report.title))] += 1
        for entry in body["history"]:
            if entry["to"] in SUBJECTS and entry["note"].startswith("Chaos step"):
                expected[(email, SUBJECTS[entry["to"]].format(title=report.title))] += 1
        for comment in body["comments"]:
            author = by_user.get(comment["author_id"] or "")
            if author is not None and author.index != report.reporter and not comment["internal"]:
                expected[(email, SUBJECTS["comment_added"].format(title=report.title))] += 1
    log("waiting for the mail to arrive ...")
    deadline = time.monotonic() + DRAIN_S
    quiet_since, last = time.monotonic(), -1
    while True:
        total, ids = mail_summary(stack.mail, mail_since)
        distinct = {k: len(v) for k, v in ids.items()}
        short = sum(max(0, n - distinct.get(k, 0)) for k, n in expected.items())
        received = sum(total.values())
        if received != last:
            quiet_since, last = time.monotonic(), received
        if (
            (short == 0 and time.monotonic() - quiet_since > 5)
            or time.monotonic() - quiet_since > 60
            or time.monotonic() > deadline
        ):
            break
        await asyncio.sleep(1)
    ours = {k for k in total if k[0].startswith(f"chaos-{ledger.run}-")}
    duplicates = sum(total[k] - distinct[k] for k in total)
    unexpected = {
        f"{k[0]} | {k[1]}": distinct[k] - expected.get(k, 0) for k in ours if distinct[k] > expected.get(k, 0)
    }
    missing = {f"{k[0]} | {k[1]}": n - distinct.get(k, 0) for k, n in expected.items() if n > distinct.get(k, 0)}
    figures["notifications"] = {
        "expected": sum(expected.values()),
        "sent_distinct": sum(min(n, distinct.get(k, 0)) for k, n in expected.items()),
        "missing": sum(missing.values()),
        "missing_examples": dict(list(missing.items())[:10]),
        "received": sum(total.values()),
        "duplicates_same_message_id": duplicates,
        "kills": stack.kills,
        "unexpected_distinct": sum(unexpected.values()),
        "unexpected_examples": dict(list(unexpected.items())[:10]),
    }
    if missing:
        misses.append(f"notifications: {sum(missing.values())} expected emails not sent")
    if duplicates > stack.kills:
        misses.append(f"notifications: {duplicates} duplicates > {stack.kills} kills")
    if unexpected:
        misses.append(
            f"notifications: {sum(unexpected.values())} emails beyond the expected (not deduplicable by Message-ID)"
        )

    # -- analytics: the service's counts against the stored reports and against the event log counted plainly
    truth: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    for report in everything:
        body = details.get(report.id)
        if body is None:
            continue
        truth[report.category]["reported"] += 1
        for entry in body["history"]:
            if entry["to"] in MEASURES:
                truth[report.category][entry["to"]] += 1
    events, repeats = await issue_events(bootstrap)
    our_issues = {UUID(report.id) for report in everything}
    plain = expected_from_events([e for e in events if getattr(e, "issue_id", None) in our_issues])
    from_log = {c: plain.total(c) for c in CATEGORIES}
    begin = started_at.replace(second=0, microsecond=0)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    service: dict[str, dict[str, int]] = {}
    for attempt in range(10):
        for category in CATEGORIES:
            params = {
                "category": category,
                "from": begin.isoformat(),
                "to": (end + timedelta(minutes=attempt)).isoformat(),
            }
            response = await admin.get("/v1/analytics/summary", params=params)
            service[category] = (
                response.json().get("counts", {}) if response.status_code == 200 else {"status": response.status_code}
            )
        if all(service[c].get(m, 0) == truth[c][m] for c in CATEGORIES for m in MEASURES):
            break
        await asyncio.sleep(3)
    analytics_rows = {
        c: {m: {"truth": truth[c][m], "event_log": from_log[c][m], "analytics": service[c].get(m)} for m in MEASURES}
        for c in CATEGORIES
    }
    wrong = [
        f"{c}.{m}"
        for c, row in analytics_rows.items()
        for m, v in row.items()
        if not v["truth"] == v["event_log"] == v["analytics"]
    ]
    figures["analytics"] = {"by_category": analytics_rows, "event_repeats_same_id": repeats, "differences": wrong}
    if wrong:
        misses.append(f"analytics: {len(wrong)} counts differ from the ground truth ({', '.join(wrong[:6])})")

    figures["accepted"] = dict(ledger.accepted)
    figures["unanswered_after_retries"] = dict(ledger.unanswered)
    figures["refused"] = dict(ledger.refused)
    figures["misses"] = misses
    return figures


# --------------------------------------------------------------------------- the run


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


def markdown(r: dict[str, Any]) -> str:
    def ok(good: bool) -> str:
        return "yes" if good else "**MISS**"

    a, n = r["availability"], r["notifications"]
    lines = [
        "# `make chaos`",
        "",
        f"Run {r['run']} at {r['at']} (profile {r['profile']}): {r['citizens']} citizens and {len(r['analytics']['by_category'])} "
        f"categories' staff through nginx and two gateways; 3 Kafka brokers (RF 3, min ISR 2). Load for {r['load_s']} s, "
        f"{r['total_s']} s with the checks; {r['cores']} cores, load average {r['load_average_1m_start_end'][0]} at the start, "
        f"{r['load_average_1m_start_end'][1]} at the end (other work shares this machine).",
        "",
        "## Faults",
        "",
        "| fault | at (s) | recovery (s) | window (s) | requests in window | non-5xx in window | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {w['detail']} | {w['at_s']} | {w['recovery_s'] if w['recovery_s'] is not None else '**not recovered**'} | "
        f"{w['window_s']} | {w['requests']} | {w['non_5xx_share']} | {w['load_average_1m']} |"
        for w in r["faults"]
    ]
    rep, trans = r["reports"], r["transitions"]
    lines += [
        "",
        "## Ledger",
        "",
        "| check | figure | met |",
        "|---|---|---|",
        f"| reports: 202s stored exactly once | {rep['accepted']} accepted, {rep['stored']} stored, {len(rep['lost'])} lost, "
        f"{len(rep['stored_twice'])} twice, {len(rep['not_readable'])} not readable; {rep['stored_without_a_202_seen']} stored "
        f"whose 202 the client never saw | {ok(not rep['lost'] and not rep['stored_twice'] and not rep['not_readable'])} |",
        f"| photos: uploaded, processed, on their report | {r['photos']['accepted']} accepted, {len(r['photos']['misses'])} misses | {ok(not r['photos']['misses'])} |",
        f"| comments: each once in its list and the store | {r['comments']['accepted']} accepted, {len(r['comments']['misses'])} misses | {ok(not r['comments']['misses'])} |",
        f"| votes: counts equal the voters | {r['votes']['accepted']} accepted, {len(r['votes']['misses'])} wrong counts | {ok(not r['votes']['misses'])} |",
        f"| transitions: histories equal the 202s | {trans['accepted']} accepted, {len(trans['misses'])} misses | {ok(not trans['misses'])} |",
        f"| notifications: every expected email sent | {n['expected']} expected, {n['sent_distinct']} sent, {n['missing']} missing | {ok(n['missing'] == 0)} |",
        f"| notifications: duplicates <= kills, same Message-ID | {n['duplicates_same_message_id']} duplicates, {n['kills']} kills, "
        f"{n['unexpected_distinct']} extra with a new Message-ID | {ok(n['duplicates_same_message_id'] <= n['kills'] and n['unexpected_distinct'] == 0)} |",
        f"| analytics equal the ground truth | {len(r['analytics']['differences'])} differences over {len(r['analytics']['by_category'])} categories x {len(MEASURES)} counts | {ok(not r['analytics']['differences'])} |",
        f"| availability outside the fault windows >= {AVAILABILITY_TARGET:.1%} | {a['outside_non_5xx_share']} of {a['outside_windows']} requests "
        f"(inside the windows: {a['inside_non_5xx_share']} of {a['inside_windows']}) | {ok(a['outside_non_5xx_share'] is not None and a['outside_non_5xx_share'] >= AVAILABILITY_TARGET)} |",
        f"| consumer groups caught up | {r['consumer_lag_at_check']} | {ok(bool(r['consumer_lag_at_check']) and not any(r['consumer_lag_at_check'].values()))} |",
        "",
        f"Accepted: {r['accepted']}. Without a definite answer after the client's retries: {r['unanswered_after_retries']}. "
        f"Refused: {r['refused']}. Statuses seen: {dict(a['statuses'])}.",
        "",
        "Analytics (truth = the stored reports and histories; event log = issues.events.v1 counted by tests.analytics_history):",
        "",
        "| category | " + " | ".join(MEASURES) + " |",
        "|---|" + "---|" * len(MEASURES),
    ]
    for category, row in r["analytics"]["by_category"].items():
        cells = [f"{v['truth']} / {v['event_log']} / {v['analytics']}" for v in row.values()]
        lines.append(f"| {category} (truth / log / service) | " + " | ".join(cells) + " |")
    lines += ["", "## Misses", ""]
    lines += [f"- {m}" for m in r["misses"]] or ["None."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
