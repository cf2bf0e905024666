"""Graceful degradation against the real stack: Redis down, the database down, a service down.

Each test takes one real dependency away (the stack's own server, or one SnapFix process),
checks what still works and what answers 503 with ``Retry-After``, and brings it back.
(Kafka down is covered in test_report_flow.py.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from uuid import uuid4

import httpx
import pytest

from snapfix_shared.topics import Topic
from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually
from tests.e2e.conftest import System
from tests.stack import ROOT, header, read_topic

pytestmark = pytest.mark.e2e


def _stack(verb: str, component: str) -> None:
    profile = os.environ.get("SNAPFIX_STACK_PROFILE", "test")
    result = subprocess.run(
        [sys.executable, "deploy/local/stack.py", verb, component, "--profile", profile],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def _circuit_state(system: System, process: str, dependency: str) -> str:
    """The process's own report of the circuit (its /metrics line), e.g. ``...} 1.0`` when open."""
    async with httpx.AsyncClient(base_url=system.urls[process], timeout=10) as client:
        metrics = (await client.get("/metrics")).text
    prefix = f'snapfix_circuit_open{{dependency="{dependency}",service="{process}"}}'
    return next((line for line in metrics.splitlines() if line.startswith(prefix)), f"{prefix} absent")


async def _until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.3)
    pytest.fail(f"{what} did not happen within {timeout_s}s")


async def _recovered(client: httpx.AsyncClient) -> None:
    probes = {
        "the gateway's accounts": ("POST", "/v1/auth/register", 202),
        "the media service": ("GET", f"/v1/media/{uuid4()}", 404),
        "the notify service": ("GET", "/v1/me/notifications", 200),
        "the issues service": ("GET", f"/v1/issues/{uuid4()}", 404),
    }
    for what, (method, path, expected) in probes.items():

        async def answers(method: str = method, path: str = path, expected: int = expected) -> bool:
            body = {"email": f"back-{uuid4().hex[:10]}@example.org", "password": PASSWORD, "display_name": "Back"}
            answer = await client.request(method, path, json=body if method == "POST" else None)
            assert answer.status_code in {expected, 503}, answer.text
            return answer.status_code == expected

        await _until(answers, 60, f"{what} answering after the database came back")


async def test_while_redis_is_down_the_gateway_keeps_serving(system: System) -> None:
    client = await citizen(system)  # signed in before the outage
    anonymous = httpx.AsyncClient(base_url=system.gateway, timeout=30)
    title = f"Reported while Redis is down {uuid4().hex[:8]}"
    try:
        _stack("stop", "redis")
        try:
            # Requests are counted in the process; its settles into Redis fail (every 100 ms while
            # there are counts) until the gateway's Redis circuit opens.
            async def served_and_circuit_open() -> bool:
                categories = await anonymous.get("/v1/categories")
                assert categories.status_code == 200, categories.text
                assert "ratelimit" in categories.headers  # counted in the process's memory
                return (await _circuit_state(system, "gateway", "redis")).endswith(" 1.0")

            await _until(served_and_circuit_open, 30, "the gateway's Redis circuit opening")

            # A signed-in user is served on the token's own claims; the command goes through.
            accepted = await client.post(
                "/v1/issues", json=make_report_body(title=title), headers={"idempotency-key": uuid4().hex}
            )
            assert accepted.status_code == 202, accepted.text
            # Reads bypass the issues service's cache and come from the database.
            report = await eventually(client, accepted.headers["location"], lambda _: True, timeout_s=60)
            assert report["title"] == title
        finally:
            _stack("start", "redis")

        # Once Redis is back (and the circuit has closed), sessions are enforced again: logout is immediate.
        async def logged_out() -> bool:
            answer = await client.post("/v1/auth/logout")
            assert answer.status_code in {204, 503}, answer.text
            return answer.status_code == 204

        await _until(logged_out, 60, "logout working again")

        async def revoked() -> bool:
            return (await client.get("/v1/me")).status_code == 401

        await _until(revoked, 60, "the logged-out token being refused")
    finally:
        await client.aclose()
        await anonymous.aclose()


async def test_while_the_database_is_down_commands_are_accepted_and_applied_after_recovery(
    system: System,
) -> None:
    client = await citizen(system)
    title = f"Reported while the database is down {uuid4().hex[:8]}"
    try:
        earlier = await client.post("/v1/issues", json=make_report_body())
        assert earlier.status_code == 202, earlier.text
        await eventually(client, earlier.headers["location"], lambda _: True)
        _stack("stop", "ferretdb")
        try:
            accepted = await client.post("/v1/issues", json=make_report_body(title=title))
            assert accepted.status_code == 202, accepted.text
            # Checks are answered from the issues service's cache where they can be...
            comment = await client.post(f"{earlier.headers['location']}/comments", json={"body": "Still there"})
            assert comment.status_code == 202, comment.text
            # ...and where they cannot, the command is accepted unchecked: the consumer checks
            # it once the database is back (this one names no report, so it is refused then).
            ghost = await client.post(f"/v1/issues/{uuid4()}/comments", json={"body": "Ghost"})
            assert ghost.status_code == 202, ghost.text
            assert ghost.headers["snapfix-check"] == "deferred"

            unreadable = await client.get(f"/v1/issues/{uuid4()}")
            assert unreadable.status_code == 503, unreadable.text
            assert unreadable.headers["content-type"] == "application/problem+json"
            assert int(unreadable.headers["retry-after"]) > 0
        finally:
            _stack("start", "ferretdb")

        report = await eventually(client, accepted.headers["location"], lambda _: True, timeout_s=120)
        assert report["title"] == title
        await eventually(
            client,
            earlier.headers["location"],
            lambda issue: any(c["body"] == "Still there" for c in issue["comments"]),
            timeout_s=120,
        )
        # Every process recovers: its pooled connections to the old server fail once (a 503
        # the client retries), then the database paths answer again.
        await _recovered(client)
        ghost_id = ghost.headers["location"].rsplit("/", 1)[-1].encode()
        [refused] = await read_topic(
            system.stack.kafka, Topic.ISSUES_COMMANDS.dlq, lambda r: r.key == ghost_id, timeout_s=60
        )
        assert header(refused, "dlq_reason") == "rejected"
    finally:
        await client.aclose()


async def test_a_service_down_fails_its_reads_fast_and_nothing_else(system: System) -> None:
    client = await citizen(system)
    try:
        system.stop("media")
        try:
            answers = [await client.get(f"/v1/media/{uuid4()}") for _ in range(8)]
            assert {a.status_code for a in answers} == {503}
            assert all(int(a.headers["retry-after"]) > 0 for a in answers)
            assert "circuit open" in answers[-1].json()["detail"]  # refused without even trying

            # Everything that does not need photos is unaffected.
            assert (await client.get("/v1/categories")).status_code == 200
            title = f"Reported while media is down {uuid4().hex[:8]}"
            accepted = await client.post("/v1/issues", json=make_report_body(title=title))
            assert accepted.status_code == 202, accepted.text
            report = await eventually(client, accepted.headers["location"], lambda _: True)
            assert report["title"] == title
        finally:
            system.start("media")

        async def media_back() -> bool:
            return (await client.get(f"/v1/media/{uuid4()}")).status_code == 404

        await _until(media_back, 60, "the media service answering again")
    finally:
        await client.aclose()
