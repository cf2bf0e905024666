"""Password-reset tokens: random, single-use, expiring; only their SHA-256 is stored.

The account keeps one ``(reset_token_hash, reset_expires_at)`` pair: a new request
replaces it (an older link stops working) and a successful reset clears it (used once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ResetToken:
    token: str
    """Sent to the user, never stored."""
    token_hash: str
    expires_at: datetime


def new_reset_token(now: datetime, ttl_s: int) -> ResetToken:
    token = secrets.token_urlsafe(32)
    return ResetToken(token, digest(token), now + timedelta(seconds=ttl_s))


def reset_token_valid(token: str, stored_hash: str | None, expires_at: datetime | None, now: datetime) -> bool:
    """True when ``token`` is the account's current reset token and has not expired."""
    if not stored_hash or expires_at is None:
        return False
    if expires_at.tzinfo is None:  # BSON dates come back naive (UTC)
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return hmac.compare_digest(digest(token), stored_hash) and now < expires_at
