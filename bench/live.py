"""`make bench` phase "live": 10,000 Server-Sent Event streams on one gateway process.

Users are signed in directly in the store (a session in Redis, an access token minted with
the gateway's secret), not through the per-IP-limited registration. ``BENCH_LIVE_CONNECTIONS``
streams (default 10,000) are opened on one gateway process by ``BENCH_LIVE_PER_USER`` (2)
per user; ``BENCH_LIVE_FOLLOWERS`` (1,000) of those users follow one report (through the
API). Then a staff member changes the report's status three times, and each follower's
connections time the update's arrival from the moment the change was sent.

Measured: streams opened and refused, the gateway's Redis connections (``ss``, sampled
every second) and resident memory (``/proc``) at their peak, delivery latency per
follower (first of their connections) and per connection (p50/p99/max), updates that
reached anyone outside the audience, and the status of unrelated requests (reads,
registrations; any 5xx is a failure) sent while the streams open and after the deliveries.
CPU of every server process over the opening (per stream), idle with every stream open (per
second) and over the deliveries is reported (from ``/proc``); the servers run on core 0,
this load generator on core 1 (``taskset``). Results: bench/results/live.json.

Each delivery is also split where the time went: until the update was on the users' streams
(the command through Kafka, applied by the issues consumer, its event consumed by the
gateway; from the stream entry's id, Redis's clock on this host) and from there to arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import orjson
from redis.asyncio import Redis

from bench.cpu import LOAD_CORE, Meter, pid_on, pinned, stack_pids
from bench.load import BENCH_LIMITS, BODY, RESULTS, process
from snapfix_gateway.config import DEV_JWT_SECRET, GatewaySettings
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_gateway.live import audience_key

CONNECTIONS = int(os.environ.get("BENCH_LIVE_CONNECTIONS", "10000"))
PER_USER = int(os.environ.get("BENCH_LIVE_PER_USER", "2"))
FOLLOWERS = int(os.environ.get("BENCH_LIVE_FOLLOWERS", "1000"))
OPENING = int(os.environ.get("BENCH_LIVE_OPENING", "100"))  # streams being opened at once
CHANGES = ("acknowledged", "in_progress", "resolved")
TARGETS = {"redis_connections_max": 20, "rss_mb_max": 1536, "p99_s_max": 2.0}


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def redis_connections(pid: int, redis_port: int) -> int:
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( dport = :{redis_port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


class Stream:
    """One raw SSE connection (HTTP/1.1, chunked): when each update arrived (wall clock), by its data's ``to``,
    and when Redis appended it to the user's stream (the entry id's milliseconds, the same host's clock)."""

    def __init__(self, index: int, user: int) -> None:
        self.index, self.user = index, user
        self.arrived: dict[str, float] = {}
        self.appended: dict[str, float] = {}
        self.pings = 0
        self.task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, host: str, port: int, token: str) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        self.writer = writer
        writer.write(
            f"GET /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            writer.close()
            return status
        self.task = asyncio.create_task(self._read(reader))
        return status

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
            while True:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    return
                buffer += (await reader.readexactly(size + 2))[:-2]
                *frames, buffer = buffer.split(b"\n\n")
                now = time.time()
                for frame in frames:
                    if frame.startswith(b":"):
                        self.pings += 1
                        continue
                    fields = dict(line.split(b": ", 1) for line in frame.split(b"\n") if b": " in line)
                    if fields.get(b"event") == b"status_changed":
                        to = orjson.loads(fields[b"data"])["to"]
                        self.arrived.setdefault(to, now)
                        self.appended.setdefault(to, int(fields[b"id"].split(b"-")[0]) / 1000)

    def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.writer:
            self.writer.close()


class Unrelated:
    """Requests that have nothing to do with the streams, sent throughout: their statuses."""

    def __init__(self, client: httpx.AsyncClient, token: str, issue_id: str) -> None:
        self.client, self.token, self.issue_id = client, token, issue_id
        self.statuses: dict[str, int] = {}
        self.errors: list[str] = []
        self.paused = False

    def note(self, what: str, status: int | str, body: str = "") -> None:
        key = f"{what} {status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if not isinstance(status, int) or status >= 500:
            self.errors.append(f"{key}: {body[:200]}")

    async def run(self) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        tick = 0
        while True:
            await asyncio.sleep(0.1)
            if self.paused:
                continue
            tick += 1
            try:
                got = await self.client.get(f"/v1/issues/{self.issue_id}", headers=headers)
                self.note("GET /v1/issues/{id}", got.status_code, got.text)
                if tick % 20 == 0:
                    body = {"email": f"live-{uuid4().hex[:10]}@example.org", "password": "violet-harbour-71-lantern"}
                    made = await self.client.post("/v1/auth/register", json={**body, "display_name": "L"})
                    self.note("POST /v1/auth/register", made.status_code, made.text)
            except httpx.HTTPError as exc:
                self.note("request", type(exc).__name__, repr(exc))


async def sign_in_many(sessions: Sessions, tokens: TokenCodec, count: int) -> list[str]:
    async def one(i: int) -> str:
        user_id = f"live-bench-{i}-{uuid4().hex[:6]}"
        session_id, _ = await sessions.create(user_id, "citizen", ())
        return tokens.issue(user_id, session_id, role="citizen")

    out: list[str] = []
    for start in range(0, count, 50):
        out += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 50))))
    return out


async def report_and_follow(client: httpx.AsyncClient, redis: Redis, user_tokens: list[str], followers: int) -> str:
    """User 0 reports an issue and users 1..followers follow it, through the API; its id once the
    gateway's audience projection has them all."""
    reporter = {"authorization": f"Bearer {user_tokens[0]}"}
    made = await client.post("/v1/issues", json=BODY, headers=reporter)
    made.raise_for_status()
    issue_id: str = made.json()["id"]
    for _ in range(300):
        if (await client.get(f"/v1/issues/{issue_id}", headers=reporter)).status_code == 200:
            break
        await asyncio.sleep(0.1)
    gate = asyncio.Semaphore(50)

    async def follow(i: int) -> None:
        async with gate:
            answer = await client.put(
                f"/v1/issues/{issue_id}/follow", headers={"authorization": f"Bearer {user_tokens[i]}"}
            )
            answer.raise_for_status()

    await asyncio.gather(*(follow(i) for i in range(1, followers + 1)))
    deadline = time.monotonic() + 600
    while await redis.scard(audience_key(issue_id)) < followers + 2:
        assert time.monotonic() < deadline, "the follows did not reach the gateway's audience projection"
        await asyncio.sleep(0.5)
    return issue_id


async def open_streams(streams: list[Stream], host: str, port: int, user_tokens: list[str]) -> dict[str, int]:
    """Open the streams, OPENING at a time; how many were refused, by status or error."""
    refused: dict[str, int] = {}
    gate = asyncio.Semaphore(OPENING)

    async def open_one(stream: Stream) -> None:
        async with gate:
            try:
                status = await asyncio.wait_for(open_stream(stream), 60)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__  # type: ignore[assignment]
            if status != 200:
                refused[str(status)] = refused.get(str(status), 0) + 1

    async def open_stream(stream: Stream) -> int:
        return await stream.open(host, port, user_tokens[stream.user])

    await asyncio.gather(*(open_one(s) for s in streams))
    return refused


def delivery(to: str, sent: float, expected: list[Stream], *, followers: int, strays: int) -> dict[str, Any]:
    """How one status change, sent at ``sent``, reached the streams of its audience (``expected``)."""
    per_connection = [s.arrived[to] - sent for s in expected if to in s.arrived]
    first_by_user: dict[int, float] = {}
    for s in expected:
        if to in s.arrived and s.user != 0:
            first_by_user[s.user] = min(first_by_user.get(s.user, 1e9), s.arrived[to] - sent)
    by_user = list(first_by_user.values())
    # Where the time went: until the update was on the users' streams (the command applied by
    # the issues consumer, its event consumed by the gateway), then out to the connections.
    appended = [s.appended[to] - sent for s in expected if to in s.appended]
    fanned = [s.arrived[to] - s.appended[to] for s in expected if to in s.arrived]
    return {
        "to": to,
        "followers": followers,
        "followers_reached": len(by_user),
        "connections_expected": len(expected),
        "connections_reached": len(per_connection),
        "outside_audience": strays,
        "p50_s": round(quantile(by_user, 0.5), 3),
        "p99_s": round(quantile(by_user, 0.99), 3),
        "max_s": round(max(by_user, default=float("nan")), 3),
        "per_connection_p99_s": round(quantile(per_connection, 0.99), 3),
        "until_appended_p50_s": round(quantile(appended, 0.5), 3),
        "appended_to_arrival_p50_s": round(quantile(fanned, 0.5), 3),
        "appended_to_arrival_p99_s": round(quantile(fanned, 0.99), 3),
    }


async def run(gateway: str, pids: dict[str, int], redis_url: str) -> dict[str, Any]:
    gw_pid = pids["gateway"]
    redis_port = urlsplit(redis_url).port or 6379
    settings = GatewaySettings()
    secret = os.environ.get("SNAPFIX_JWT_SECRET", DEV_JWT_SECRET)
    tokens = TokenCodec(secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=3600)
    redis = Redis.from_url(redis_url)
    sessions = Sessions(redis, 3600)
    users = max(1, CONNECTIONS // PER_USER)
    followers = min(FOLLOWERS, users - 1)
    started = time.monotonic()
    user_tokens = await sign_in_many(sessions, tokens, users)
    staff_session, _ = await sessions.create("live-bench-staff", "staff", ("roads",))
    staff = {
        "authorization": f"Bearer {tokens.issue('live-bench-staff', staff_session, role='staff', departments=('roads',))}"
    }
    result: dict[str, Any] = {"users": users, "signed_in_s": round(time.monotonic() - started, 1)}

    host, port = urlsplit(gateway).hostname or "127.0.0.1", urlsplit(gateway).port or 80
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        issue_id = await report_and_follow(client, redis, user_tokens, followers)
        result["followed_in_s"] = round(time.monotonic() - started, 1)

        peak = {"rss_mb": rss_mb(gw_pid), "redis_connections": redis_connections(gw_pid, redis_port)}
        result["before"] = dict(peak)

        async def sample() -> None:
            while True:
                peak["rss_mb"] = max(peak["rss_mb"], rss_mb(gw_pid))
                peak["redis_connections"] = max(peak["redis_connections"], redis_connections(gw_pid, redis_port))
                await asyncio.sleep(1)

        unrelated = Unrelated(client, user_tokens[-1], issue_id)
        background = [asyncio.create_task(sample()), asyncio.create_task(unrelated.run())]

        streams = [Stream(i, i // PER_USER) for i in range(users * PER_USER)]
        meter = Meter(pids)
        opened_at = time.monotonic()
        refused = await open_streams(streams, host, port, user_tokens)
        open_s = time.monotonic() - opened_at
        live = [s for s in streams if s.task is not None]
        opening_cpu = meter.per_request(len(live))
        result["opening"] = {
            "offered": len(streams),
            "open": len(live),
            "refused": refused,
            "seconds": round(open_s, 1),
            "cpu_ms_per_stream": opening_cpu,
        }
        print(f"[live] {len(live)} of {len(streams)} streams open in {open_s:.1f}s; refused {refused}", flush=True)
        await asyncio.sleep(5)

        # Idle with every stream open: heartbeats only. The unrelated requests pause from here
        # through the deliveries, so the CPU measured there is the streams' own (a registration
        # hashes a password: tens of ms), and go on again afterwards.
        unrelated.paused = True
        await asyncio.sleep(1)
        meter = Meter(pids)
        await asyncio.sleep(16)
        result["idle_cpu_s_per_s"] = {
            k: round(v * len(live) / 16 / 1000, 4) for k, v in meter.per_request(len(live)).items()
        }

        # The status changes.
        audience = set(range(1, followers + 1)) | {0}
        deliveries: list[dict[str, Any]] = []
        meter = Meter(pids)
        for to in CHANGES:
            sent = time.time()
            answer = await client.post(f"/v1/issues/{issue_id}/transitions", json={"to": to}, headers=staff)
            answer.raise_for_status()
            expected = [s for s in live if s.user in audience]
            deadline = sent + 30
            while time.time() < deadline and any(to not in s.arrived for s in expected):
                await asyncio.sleep(0.05)
            strays = sum(1 for s in live if s.user not in audience and to in s.arrived)
            deliveries.append(delivery(to, sent, expected, followers=followers, strays=strays))
            print(f"[live] {deliveries[-1]}", flush=True)
            await asyncio.sleep(2)
        result["delivery_cpu_ms_per_change"] = meter.per_request(len(CHANGES))
        delivered = sum(d["connections_reached"] for d in deliveries)
        result["delivery_gateway_cpu_ms_per_connection_told"] = meter.per_request(delivered)["gateway"]
        unrelated.paused = False
        await asyncio.sleep(5)
        result["deliveries"] = deliveries
        result["peak"] = {k: round(v, 1) for k, v in peak.items()}
        result["heartbeats_per_stream"] = round(statistics.mean(s.pings for s in live), 1) if live else 0
        for task in background:
            task.cancel()
        result["unrelated"] = {"statuses": unrelated.statuses, "errors": unrelated.errors[:20]}
        for s in streams:
            s.close()
    await redis.aclose()
    worst = max((d["p99_s"] for d in deliveries), default=float("nan"))
    result["met"] = {
        "connections": len(live) >= CONNECTIONS,
        "redis_connections": peak["redis_connections"] <= TARGETS["redis_connections_max"],
        "rss": peak["rss_mb"] <= TARGETS["rss_mb_max"],
        "p99": worst <= TARGETS["p99_s_max"] and all(d["followers_reached"] == followers for d in deliveries),
        "no_5xx": not unrelated.errors,
    }
    return result


def main() -> None:
    # 10,000 streams: as many descriptors on each side (the gateway inherits this limit).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = {
        **BENCH_LIMITS,
        "SNAPFIX_LOG_LEVEL": "WARNING",
        "SNAPFIX_WORKERS": "1",
        "SNAPFIX_LIVE_MAX_STREAMS": str(CONNECTIONS + 1000),
        "SNAPFIX_RATE_LIMIT_TOKEN": "100000000/minute",
    }
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
        "nofile": hard,
        "offered": {"connections": CONNECTIONS, "per_user": PER_USER, "followers": FOLLOWERS},
        "targets": TARGETS,
    }
    with (
        process("live-issues", [sys.executable, "-m", "snapfix_issues"], env) as issues,
        process("live-gateway", [sys.executable, "-m", "snapfix_gateway"], {**env, "SNAPFIX_ISSUES_URL": issues}) as gw,
    ):
        pids = stack_pids({"gateway": pid_on(gw), "issues": pid_on(issues)})
        os.sched_setaffinity(0, {int(LOAD_CORE)})
        with pinned(pids):
            results.update(asyncio.run(run(gw, pids, os.environ["SNAPFIX_REDIS_URL"])))
    results["load_average_end"] = round(os.getloadavg()[0], 1)
    (RESULTS / "live.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results.get(k) for k in ("opening", "peak", "deliveries", "met")}, indent=2))


if __name__ == "__main__":
    main()
