"""Integrators' API keys for Open311 ``POST requests``: issued and revoked by admins, stored hashed.

A key is 32 random bytes (URL-safe); only its SHA-256 is stored (a fast hash is right
for a high-entropy secret: there is nothing to guess). The key is shown once, when issued.
A key acts as an integrator principal (``apikey:<key id>``, role citizen) on the same
command path as the mobile API.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import ClassVar

from beanie import Document
from pymongo import IndexModel
from uuid_utils.compat import uuid7

from snapfix_gateway.identity.sessions import Principal
from snapfix_shared.messages.base import utcnow

KEY_PREFIX = "sfk_"


class ApiKey(Document):
    """One integrator's key. Small: unsharded (intended shard key ``{_id}`` if it ever grows)."""

    id: str  # type: ignore[assignment]  # a UUIDv7 as text: it is part of the integrator's actor id
    name: str
    key_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    class Settings:
        name = "api_keys"
        indexes: ClassVar = [IndexModel("key_hash", unique=True)]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def integrator(key: ApiKey) -> Principal:
    """The principal a key's requests act as."""
    return Principal(user_id=f"apikey:{key.id}", role="citizen", departments=(), session_id="")


class ApiKeys:
    """Issue, revoke and check keys (the gateway's own database)."""

    async def issue(self, name: str, by: str) -> tuple[ApiKey, str]:
        """A new key and its secret (returned once, never stored)."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id=str(uuid7()), name=name, key_hash=key_hash(secret), created_at=utcnow(), created_by=by)
        await key.insert()
        return key, secret

    async def revoke(self, key_id: str, by: str) -> ApiKey | None:
        """Revoke a key (at once); None when there is no such key. Revoking twice keeps the first time."""
        key = await ApiKey.get(key_id)
        if key is None:
            return None
        if key.revoked_at is None:
            key.revoked_at, key.revoked_by = utcnow(), by
            await key.save()
        return key

    async def all(self) -> list[ApiKey]:
        return await ApiKey.find_all().sort("created_at").to_list()

    async def verify(self, secret: str | None) -> ApiKey | None:
        """The active key with this secret, else None (missing, unknown or revoked)."""
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        key = await ApiKey.find_one(ApiKey.key_hash == key_hash(secret))
        if key is None or key.revoked_at is not None:
            return None
        return key
