"""Sessions in Redis: revocable at once, with rotating refresh tokens.

A refresh token is ``<session id>.<secret>``. The session keeps the hash of its current
secret and those of the last ``USED_KEPT`` it rotated away from (``:used``, a capped list);
presenting a rotated secret again means the token was stolen or replayed, and the whole
session (the family of tokens descending from one sign-in) is revoked. A secret older than
that history is merely refused.

One exception, the reuse grace (``reuse_grace_s``, as Auth0's reuse interval or Okta's grace
period): the secret a session last rotated away from is honoured again for a few seconds after
that rotation, and rotates the session anew. A client whose refresh answer was lost (a timeout,
a dropped connection, a 503 from a proxy) can then retry instead of being signed out; the
successor it never received goes onto the replay history, so if someone did receive it, presenting
it later revokes the session. The grace counts from the first rotation away from that secret.

The keys of a session share a hash tag, so the rotation script is atomic on Redis Cluster too.

Lifetimes: a refresh extends the session by ``ttl_s`` (the idle lifetime), never past its
absolute end, ``max_age_s`` after the sign-in (read from the session id, a UUIDv7); then a
refresh is refused and the user signs in again.

Each user also has a set of their session ids (``gw:user:{<user id>}:sessions``), so a
password reset can end every session at once. It lives at least as long as each of its
sessions: a refresh lists its session again and extends the set's expiry (never shortens it)
*before* it extends the session, in another hash slot, so a failure in between leaves the
set longer-lived, never shorter. A sign-in drops the members whose session has ended, so the
set holds the user's live sessions only.

Ending a session also announces it on the revocation stream (``revocations.py``), which
every gateway process follows: access tokens are then refused everywhere without a Redis
call per request. A logout or a reset announces before it deletes, so a failure in between
never leaves a session deleted but its access tokens honoured; a replayed refresh token
is announced right after the rotation script deleted its session.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter
from uuid_utils.compat import uuid7

from snapfix_gateway.identity.revocations import Revocations, announce
from snapfix_shared.messages import Role

# How long the revocation of a replayed refresh token's session is retried before giving up.
ANNOUNCE_RETRY_S = 5.0

# The absolute lifetime of a session unless told otherwise (GatewaySettings.session_max_age_s).
MAX_AGE_S = 30 * 24 * 3600
# Rotated secrets kept per session to recognise a replay (a refresh every 15 minutes: 25 hours).
USED_KEPT = 100
# A listed session younger than this is never dropped from its user's set as ended: it may
# be being created (its set is written after it).
LISTING_GRACE_S = 60.0

# KEYS: the session, its used secrets, and the unbounded set releases before this one kept
# (read, never written: it expires with the lifetime it had).
# ARGV: the presented secret's digest, the new secret's, the session's new TTL, USED_KEPT, now
# and the reuse grace (milliseconds). The hash keeps the secret last rotated away from
# ('previous') and when ('rotated_at'), for the grace.
_ROTATE = """
local current = redis.call('HGET', KEYS[1], 'refresh')
if not current then return 'missing' end
local function succeed(retired)
  redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
  redis.call('LPUSH', KEYS[2], retired)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
if current == ARGV[1] then
  succeed(ARGV[1])
  redis.call('HSET', KEYS[1], 'previous', ARGV[1], 'rotated_at', ARGV[5])
  return 'rotated'
end
local at = tonumber(redis.call('HGET', KEYS[1], 'rotated_at') or '0')
local grace = tonumber(ARGV[6])
if grace > 0 and redis.call('HGET', KEYS[1], 'previous') == ARGV[1] and tonumber(ARGV[5]) - at <= grace then
  succeed(current)
  return 'rotated'
end
if redis.call('LPOS', KEYS[2], ARGV[1]) or redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 'reused'
end
return 'invalid'
"""

# KEYS: a session. ARGV: its user's role and departments now. Never recreates a session that ended.
_RECLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'role', ARGV[1], 'departments', ARGV[2])
return 1
"""

Outcome = Literal["rotated", "reused", "invalid", "missing"]


@dataclass(frozen=True)
class Principal:
    """The signed-in user behind a request."""

    user_id: str
    role: Role
    departments: tuple[str, ...]
    session_id: str

    @property
    def is_staff(self) -> bool:
        return self.role in {"staff", "admin"}


def _keys(session_id: str) -> tuple[str, str, str]:
    """The session, its used secrets, and the set of rotated secrets of earlier releases."""
    tag = f"gw:sess:{{{session_id}}}"
    return tag, f"{tag}:used", f"{tag}:rotated"


def _created_s(session_id: str) -> float | None:
    """When the session began: the timestamp of its UUIDv7 id (None for anything else)."""
    try:
        parsed = UUID(session_id)
    except ValueError:
        return None
    return (parsed.int >> 80) / 1000 if parsed.version == 7 else None


def began_before(session_id: str, instant: datetime | None) -> bool:
    """Whether the session began before ``instant`` (a password reset's cut-off; None: no cut-off)."""
    if instant is None:
        return False
    created = _created_s(session_id)
    cut_off = instant if instant.tzinfo else instant.replace(tzinfo=UTC)  # the store may hand back naive UTC
    return created is None or created < cut_off.timestamp()


def _user_key(user_id: str) -> str:
    return f"gw:user:{{{user_id}}}:sessions"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RefreshRejected(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class Sessions:
    def __init__(
        self,
        redis: Redis,
        ttl_s: int,
        *,
        max_age_s: int = MAX_AGE_S,
        revocations: Revocations | None = None,
        revocation_keep_s: float = 960,
        reuse_grace_s: float = 0.0,
    ) -> None:
        """``ttl_s``: how long a session lives unrefreshed; ``max_age_s``: how long it lives at most;
        ``reuse_grace_s``: how long the secret last rotated away from is honoured again (0: never)."""
        self.redis, self.ttl_s, self.max_age_s, self.revocations = redis, ttl_s, max_age_s, revocations
        self.reuse_grace_ms = round(reuse_grace_s * 1000)
        self.revocation_keep_s = revocations.keep_s if revocations is not None else revocation_keep_s
        self._rotate = redis.register_script(_ROTATE)
        self._reclaim = redis.register_script(_RECLAIM)

    def _ttl(self, session_id: str, now: float) -> int:
        """The session's expiry after a sign-in or a refresh now: ``ttl_s``, cut at its absolute end (≤ 0: ended)."""
        created = _created_s(session_id)
        if created is None:
            return 0
        remaining = created + self.max_age_s - now
        return min(self.ttl_s, math.ceil(remaining)) if remaining > 0 else 0

    async def create(self, user_id: str, role: Role, departments: tuple[str, ...]) -> tuple[str, str]:
        """Start a session; returns (session id, refresh token)."""
        session_id = str(uuid7())
        secret = secrets.token_urlsafe(32)
        key = _keys(session_id)[0]
        ttl_s = max(1, self._ttl(session_id, time.time()))
        await self._forget_ended(user_id)
        fields: dict[Any, Any] = {
            "user_id": user_id,
            "role": role,
            "departments": ",".join(departments),
            "refresh": _digest(secret),
        }
        # Listed under its user first (another hash slot on Redis Cluster: its own round trip), so
        # that no session exists that a reset's revoke_all cannot find; a listing whose session
        # never came is young, and _forget_ended leaves young ones alone.
        await self._list(user_id, session_id, ttl_s)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl_s)
            await pipe.execute()
        return session_id, f"{session_id}.{secret}"

    async def _list(self, user_id: str, session_id: str, ttl_s: int) -> None:
        """List the session under its user, the set living at least ``ttl_s`` more (extended, never cut)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_user_key(user_id), session_id)
            pipe.expire(_user_key(user_id), ttl_s, nx=True)  # a set without an expiry gets this one...
            pipe.expire(_user_key(user_id), ttl_s, gt=True)  # ...one with a shorter expiry gets it too
            await pipe.execute()

    async def _forget_ended(self, user_id: str) -> None:
        """Drop from the user's set the sessions that ended (expired, logged out, replayed)."""
        listed = [m.decode() if isinstance(m, bytes) else str(m) for m in await self.redis.smembers(_user_key(user_id))]
        now = time.time()
        settled = [m for m in listed if (_created_s(m) or 0) < now - LISTING_GRACE_S]
        if not settled:
            return
        ended = set(settled) - await self.active(settled)
        if ended:
            await self.redis.srem(_user_key(user_id), *ended)

    async def get(self, session_id: str) -> Principal | None:
        key = _keys(session_id)[0]
        user_id, role, departments = (
            v.decode() if isinstance(v, bytes) else v
            for v in await self.redis.hmget(key, ["user_id", "role", "departments"])
        )
        if not user_id or not role:
            return None
        return Principal(
            user_id=user_id,
            role=cast("Role", role),
            departments=tuple(d for d in (departments or "").split(",") if d),
            session_id=session_id,
        )

    async def active(self, session_ids: Sequence[str]) -> set[str]:
        """Those of the sessions that have not ended (one pipelined round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.exists(_keys(session_id)[0])
            found = await pipe.execute()
        return {session_id for session_id, exists in zip(session_ids, found, strict=True) if exists}

    async def rotate(self, refresh_token: str) -> tuple[Principal, str]:
        """Exchange a refresh token for its successor; a replayed one revokes the session."""
        session_id, _, secret = refresh_token.partition(".")
        if not session_id or not secret or len(refresh_token) > 200:
            raise RefreshRejected("invalid")
        principal = await self.get(session_id)
        if principal is None:
            raise RefreshRejected("missing")
        ttl_s = self._ttl(session_id, time.time())
        if ttl_s <= 0:  # its absolute end: the key expires by itself within the second
            raise RefreshRejected("missing")
        # Before the session is extended: a password reset must still find it afterwards.
        await self._list(principal.user_id, session_id, ttl_s)
        new_secret = secrets.token_urlsafe(32)
        now_ms = round(time.time() * 1000)
        args: list[str | int] = [_digest(secret), _digest(new_secret), ttl_s, USED_KEPT, now_ms, self.reuse_grace_ms]
        outcome = (await self._rotate(keys=list(_keys(session_id)), args=args)).decode()
        if outcome == "reused":  # the script deleted the session: its access tokens end too
            # Announced whatever a blip of Redis does: unannounced, the stolen session's access
            # tokens would pass on every other replica until they expire.
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(RedisError),
                wait=wait_exponential_jitter(multiplier=0.05, max=1),
                stop=stop_after_delay(ANNOUNCE_RETRY_S),
                reraise=True,
            ):
                with attempt:
                    await self._announce([session_id])
        if outcome != "rotated":
            raise RefreshRejected(cast("Outcome", outcome))
        return principal, f"{session_id}.{new_secret}"

    async def revoke(self, session_id: str) -> None:
        await self._announce([session_id])
        await self.redis.delete(*_keys(session_id))

    async def revoke_all(self, user_id: str) -> int:
        """End every session of a user (after a password reset); how many were listed."""
        members = [
            m.decode() if isinstance(m, bytes) else str(m) for m in await self.redis.smembers(_user_key(user_id))
        ]
        await self._announce(members)
        for member in members:
            # One slot per session on Redis Cluster: deleted one by one.
            await self.redis.delete(*_keys(member))
        if members:
            # Only those: a session a refresh listed meanwhile stays listed (and is deleted by the next reset).
            await self.redis.srem(_user_key(user_id), *members)
        return len(members)

    async def update_claims(self, user_id: str, role: Role, departments: tuple[str, ...]) -> int:
        """Give every live session of the user its new role and departments (after an administrator's change).

        What a session answers when the revocation feed is not fresh, and what its next refresh
        would carry if the account could not be read then; access tokens issued before keep
        their claims until they expire. Returns how many sessions were updated.
        """
        members = [
            m.decode() if isinstance(m, bytes) else str(m) for m in await self.redis.smembers(_user_key(user_id))
        ]
        updated = 0
        for member in members:  # one slot per session on Redis Cluster: one by one
            updated += int(await self._reclaim(keys=[_keys(member)[0]], args=[role, ",".join(departments)]))
        return updated

    async def _announce(self, session_ids: list[str]) -> None:
        if not session_ids:
            return
        await announce(self.redis, session_ids, keep_s=self.revocation_keep_s)
        if self.revocations is not None:
            self.revocations.note(session_ids)
