"""Two gateway processes against the real stack: a session ended on one is refused by the other
within a second, from the revocation feed (not a Redis lookup per request)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import orjson
import pytest

from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSeal
from snapfix_shared.topics import Topic
from tests.stack import ROOT, Stack, free_port, process_env, read_topic

pytestmark = pytest.mark.integration

PASSWORD = "violet-harbour-71-lantern"
NEW_PASSWORD = "amber-falcon-38-meadow"


@pytest.fixture(scope="module")
def replicas(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    logs = tmp_path_factory.mktemp("gateways")
    procs: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = process_env(
                stack,
                port,
                {
                    "SNAPFIX_LIVE_UPDATES": "false",  # no issues service here to ask for audiences
                    "SNAPFIX_RATE_LIMIT_ANONYMOUS": "10000/minute",
                    "SNAPFIX_RATE_LIMIT_TOKEN": "10000/minute",
                    "SNAPFIX_RATE_LIMIT_USER": "10000/minute",
                    "OTEL_SERVICE_NAME": f"snapfix-gateway-{name}",
                },
            )
            log = logs / f"gateway-{name}.log"
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "snapfix_gateway"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
                )
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in procs:
            if not _following(url, proc):
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                pytest.fail(f"a gateway did not start following revocations at {url}:\n{tail}", pytrace=False)
        yield procs[0][1], procs[1][1]
    finally:
        for proc, _, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                proc.kill()


def _following(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> bool:
    """Serving, with its revocation feed read up to now (its own report, on /metrics).

    Not /readyz: what these tests need is accounts, sessions and the feed, not the rest of the system.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "snapfix_gateway_revocation_feed_fresh 1.0" in httpx.get(f"{url}/metrics", timeout=2).text:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


async def _signed_in(gateway: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    answer = await gateway.post(
        "/v1/auth/token", data={"grant_type": "password", "username": email, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def _account(gateway: httpx.AsyncClient) -> tuple[str, str]:
    email = f"replica-{uuid4().hex[:10]}@example.org"
    answer = await gateway.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ada"})
    assert answer.status_code == 202, answer.text
    me = await gateway.get("/v1/me", headers=await _signed_in(gateway, email))
    return email, me.json()["id"]


async def _redis_checks(gateway: httpx.AsyncClient) -> float:
    """How many requests this process authenticated by asking Redis (its feed was not fresh)."""
    metrics = (await gateway.get("/metrics")).text
    line = next(line for line in metrics.splitlines() if line.startswith("snapfix_gateway_sessions_checked_total"))
    return float(line.split()[-1])


async def _refused_within(gateway: httpx.AsyncClient, headers: dict[str, str], since: float) -> float:
    """Seconds from ``since`` until ``gateway`` refuses the token (polled every 20 ms, up to 5 s)."""
    while time.monotonic() - since < 5:
        answer = await gateway.get("/v1/me", headers=headers)
        if answer.status_code == 401:
            return time.monotonic() - since
        assert answer.status_code == 200, answer.text
        await asyncio.sleep(0.02)
    pytest.fail("the other gateway still accepts the token after 5 s")


async def test_a_logout_on_one_gateway_ends_the_session_on_the_other(replicas: tuple[str, str]) -> None:
    async with httpx.AsyncClient(base_url=replicas[0]) as a, httpx.AsyncClient(base_url=replicas[1]) as b:
        email, _ = await _account(a)
        headers = await _signed_in(a, email)
        assert (await b.get("/v1/me", headers=headers)).status_code == 200
        checks_before = await _redis_checks(b)

        assert (await a.post("/v1/auth/logout", headers=headers)).status_code == 204
        elapsed = await _refused_within(b, headers, time.monotonic())

        assert elapsed < 1.0
        assert await _redis_checks(b) == checks_before  # told by the feed, not found by a lookup
        assert (await a.get("/v1/me", headers=headers)).status_code == 401


async def test_a_password_reset_ends_every_session_on_every_gateway(replicas: tuple[str, str], stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=replicas[0]) as a, httpx.AsyncClient(base_url=replicas[1]) as b:
        email, user_id = await _account(a)
        sessions = [await _signed_in(a, email), await _signed_in(b, email)]
        assert (await a.post("/v1/auth/password-reset", json={"email": email})).status_code == 202
        records = await read_topic(
            stack.kafka,
            Topic.USERS_EVENTS,
            lambda r: r.key == user_id.encode() and b"PasswordResetRequested" in (r.value or b""),
        )
        sealed = orjson.loads(records[0].value or b"{}")["reset_url_sealed"]
        token = httpx.URL(LinkSeal(DEV_LINK_SEAL_KEY).unseal(sealed)).params["token"]

        checks_before = [await _redis_checks(a), await _redis_checks(b)]
        confirmed = await b.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD})
        assert confirmed.status_code == 204, confirmed.text
        since = time.monotonic()
        for gateway in (a, b):
            for headers in sessions:
                assert await _refused_within(gateway, headers, since) < 1.0
        assert [await _redis_checks(a), await _redis_checks(b)] == checks_before
        assert (await a.get("/v1/me", headers=await _signed_in(a, email, NEW_PASSWORD))).status_code == 200


async def test_a_replayed_refresh_token_ends_the_session_on_the_other_gateway(replicas: tuple[str, str]) -> None:
    async with httpx.AsyncClient(base_url=replicas[0]) as a, httpx.AsyncClient(base_url=replicas[1]) as b:
        email, _ = await _account(a)
        first = (
            await a.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD})
        ).json()
        second = (
            await a.post(
                "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
            )
        ).json()
        third = (  # the first token is then two rotations back, past the reuse grace's one
            await a.post(
                "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
            )
        ).json()
        headers = {"authorization": f"Bearer {third['access_token']}"}
        assert (await b.get("/v1/me", headers=headers)).status_code == 200

        checks_before = await _redis_checks(b)
        replay = await a.post(
            "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert replay.status_code == 400
        assert await _refused_within(b, headers, time.monotonic()) < 1.0
        assert await _redis_checks(b) == checks_before
