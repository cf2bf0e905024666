"""The gateway's edge logic that needs no stack: password policy, degraded rate limiting, who a token speaks for."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from limits import parse
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.requests import Request

from snapfix_gateway.config import DEV_JWT_SECRET
from snapfix_gateway.deps import get_optional_principal
from snapfix_gateway.identity.passwords import Passwords, WeakPassword, check_strength
from snapfix_gateway.identity.revocations import Revocations
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.identity.tokens import TokenCodec
from snapfix_gateway.ratelimit import Limiter, Policy
from snapfix_shared.breakers import Breakers
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.redis_client import redis_client
from snapfix_shared.settings import RedisSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 10"),
        ("password123", "common"),
        ("ada@example.org1", None),  # built from the user's own e-mail address
        ("qwertyuiop", None),  # a keyboard pattern
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str | None) -> None:
    with pytest.raises(WeakPassword, match=reason) as refused:
        check_strength(password, user_inputs=["ada@example.org", "Ada"], min_score=3)
    assert str(refused.value)


def test_a_strong_password_passes() -> None:
    check_strength("violet-harbour-71-lantern", user_inputs=["ada@example.org"], min_score=3)


async def test_argon2_hashes_verify_only_the_right_password() -> None:
    passwords = Passwords(concurrency=1)
    stored = await passwords.hash("violet-harbour-71-lantern")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "violet-harbour-71-lantern")
    assert not await passwords.verify(stored, "violet-harbour-71-lanterN")
    assert not await passwords.verify(None, "violet-harbour-71-lantern")


async def test_limits_are_counted_locally_while_redis_is_down() -> None:
    down = redis_client(RedisSettings(redis_url="redis://127.0.0.1:1/0", redis_timeout_s=0.2))  # nothing listens there
    limiter = Limiter(down)
    policy = Policy("user", parse("3/minute"))
    verdicts = [await limiter.check(policy, "someone") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert limiter.degraded
    assert verdicts[-1].remaining == 0
    assert 1 <= verdicts[-1].reset_s <= 60
    await down.aclose()


def test_the_administrator_make_run_creates_is_a_valid_account() -> None:
    """`make run` starts the gateway with this bootstrap admin; a refused address stops it at start-up."""
    import importlib.util
    import secrets
    import sys
    from pathlib import Path

    from snapfix_gateway.identity.accounts import normalize_email

    path = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.py"
    spec = importlib.util.spec_from_file_location("local_stack", path)
    assert spec is not None
    assert spec.loader is not None
    stack = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = stack  # its dataclasses look their module up there
    spec.loader.exec_module(stack)
    assert normalize_email(stack.ADMIN_EMAIL) == stack.ADMIN_EMAIL
    # The generated password (token_urlsafe(32), as local_secret makes it) passes the policy.
    check_strength(secrets.token_urlsafe(32), user_inputs=[stack.ADMIN_EMAIL, "Administrator"], min_score=3)


class _Sessions:
    """Stands in for Redis's sessions: answers from a dict, or fails as an unreachable Redis does."""

    def __init__(self, live: dict[str, Principal] | None = None, *, down: bool = False) -> None:
        self.live, self.down, self.asked = live or {}, down, 0

    async def get(self, session_id: str) -> Principal | None:
        self.asked += 1
        if self.down:
            raise RedisConnectionError("Redis is down")
        return self.live.get(session_id)


def _revocations(*, fresh: bool, revoked: tuple[str, ...] = ()) -> Revocations:
    revocations = Revocations(cast("Any", None), keep_s=960)
    revocations.note(revoked)
    if fresh:
        revocations._fresh_as_of = time.monotonic()
    return revocations


async def _principal(
    sessions: _Sessions, revocations: Revocations, *, when_down: str = "token", role: str | None = "citizen"
) -> Principal | None:
    codec = TokenCodec(DEV_JWT_SECRET, issuer="i", audience="a", ttl_s=900)
    token = codec.issue("user-1", "session-1", role=role, departments=())
    state = SimpleNamespace(
        tokens=codec,
        sessions=sessions,
        revocations=revocations,
        runtime=SimpleNamespace(breakers=Breakers("gateway-unit", threshold=100)),
        settings=SimpleNamespace(sessions_when_redis_down=when_down),
    )
    app = SimpleNamespace(state=state)
    return await get_optional_principal(Request({"type": "http", "headers": [], "state": {}, "app": app}), token)


ADA = Principal(user_id="user-1", role="citizen", departments=(), session_id="session-1")


async def test_a_fresh_feed_lets_the_token_speak_for_its_session_without_redis() -> None:
    sessions = _Sessions(down=True)
    assert await _principal(sessions, _revocations(fresh=True)) == ADA
    assert sessions.asked == 0


async def test_a_revoked_session_is_refused_whatever_the_feed_and_redis_say() -> None:
    for fresh, sessions in ((True, _Sessions({"session-1": ADA})), (False, _Sessions(down=True))):
        with pytest.raises(Problem) as refused:
            await _principal(sessions, _revocations(fresh=fresh, revoked=("session-1",)))
        assert refused.value.status == 401


async def test_a_stale_feed_asks_redis_for_the_session() -> None:
    sessions = _Sessions({})  # ended, and the feed did not say so
    with pytest.raises(Problem) as refused:
        await _principal(sessions, _revocations(fresh=False))
    assert refused.value.status == 401
    assert sessions.asked == 1
    assert await _principal(_Sessions({"session-1": ADA}), _revocations(fresh=False)) == ADA


async def test_a_stale_feed_with_redis_down_follows_sessions_when_redis_down() -> None:
    assert await _principal(_Sessions(down=True), _revocations(fresh=False), when_down="token") == ADA
    with pytest.raises(ServiceUnavailable):
        await _principal(_Sessions(down=True), _revocations(fresh=False), when_down="closed")


async def test_with_redis_down_an_admin_token_does_not_stand_in_for_its_session() -> None:
    with pytest.raises(ServiceUnavailable):
        await _principal(_Sessions(down=True), _revocations(fresh=False), when_down="token", role="admin")
    admin = await _principal(_Sessions(down=True), _revocations(fresh=True), role="admin")  # the feed is fresh
    assert admin is not None
    assert admin.role == "admin"


async def test_a_token_without_a_role_is_refused() -> None:
    with pytest.raises(Problem) as refused:
        await _principal(_Sessions({"session-1": ADA}), _revocations(fresh=True), role=None)
    assert refused.value.status == 401
