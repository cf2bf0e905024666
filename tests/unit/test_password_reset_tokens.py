"""The password-reset token rules: random, hashed at rest, matching only its own hash, expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snapfix_gateway.identity.resets import digest, new_reset_token, reset_token_valid

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_new_token_is_random_and_only_its_hash_is_kept() -> None:
    a, b = new_reset_token(NOW, 3600), new_reset_token(NOW, 3600)
    assert a.token != b.token
    assert a.token_hash == digest(a.token) != a.token
    assert len(a.token) >= 40  # 32 random bytes
    assert a.expires_at == NOW + timedelta(hours=1)


def test_the_token_is_valid_until_it_expires() -> None:
    reset = new_reset_token(NOW, 3600)
    assert reset_token_valid(reset.token, reset.token_hash, reset.expires_at, NOW)
    assert reset_token_valid(reset.token, reset.token_hash, reset.expires_at, NOW + timedelta(minutes=59))
    assert not reset_token_valid(reset.token, reset.token_hash, reset.expires_at, NOW + timedelta(hours=1))


def test_another_token_or_a_cleared_one_is_refused() -> None:
    reset, other = new_reset_token(NOW, 3600), new_reset_token(NOW, 3600)
    assert not reset_token_valid(other.token, reset.token_hash, reset.expires_at, NOW)
    assert not reset_token_valid(reset.token, None, None, NOW)  # used: the account's pair was cleared
    assert not reset_token_valid(reset.token, reset.token_hash, None, NOW)


def test_a_naive_expiry_read_back_from_bson_counts_as_utc() -> None:
    reset = new_reset_token(NOW, 60)
    naive = reset.expires_at.replace(tzinfo=None)
    assert reset_token_valid(reset.token, reset.token_hash, naive, NOW)
    assert not reset_token_valid(reset.token, reset.token_hash, naive, NOW + timedelta(seconds=61))
