"""The gateway's edge logic that needs no stack: password policy, degraded rate limiting."""

from __future__ import annotations

import pytest
from limits import parse

from snapfix_gateway.identity.passwords import Passwords, WeakPassword, check_strength
from snapfix_gateway.ratelimit import Limiter, Policy
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
