"""The staff directory: who works in a department, by name, so that staff can assign an issue to a colleague.

Only an id, a display name and the departments: staff need a name to choose, not contact data
(no e-mail address ever leaves here). A department's list is read from the accounts store and
kept in Redis for ``CACHE_TTL_S`` seconds: the store is the embedded Mongo-wire server in tests,
which scans the whole collection for this query whatever indexes are declared (DESIGN.md §4, §5),
so a console opened by a department's staff reads it once per TTL rather than once per screen.
MongoDB walks the ``(departments, display_name)`` index declared on ``Account``. A list is at most ``MAX_STAFF``
long; a change of an account shows once its department's entry lapses (at most ``CACHE_TTL_S``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from pymongo.asynchronous.collection import AsyncCollection
from redis.asyncio import Redis
from redis.exceptions import RedisError

from snapfix_shared.messages import Role

log = logging.getLogger(__name__)

MAX_STAFF = 200
CACHE_TTL_S = 30
STAFF_ROLES: tuple[Role, ...] = ("staff", "admin")


class NotYourDepartment(Exception):
    """A staff member asked for a department that is not one of theirs (403)."""


def may_read(role: Role, departments: Iterable[str], department: str) -> bool:
    """Administrators read any department's staff; staff only their own departments'; citizens none."""
    if role == "admin":
        return True
    return role == "staff" and department in set(departments)


def directory_query(department: str) -> dict[str, Any]:
    """The staff of a department: staff or administrators, not disabled (absent in older accounts)."""
    return {"departments": department, "role": {"$in": list(STAFF_ROLES)}, "disabled": {"$ne": True}}


def entries(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed fields of each account, by name (then id, so that equal names keep one order)."""
    keyed = sorted((str(row["display_name"]).casefold(), str(row["_id"]), row) for row in rows)
    return [
        {"id": user_id, "display_name": str(row["display_name"]), "departments": sorted(row["departments"])}
        for _, user_id, row in keyed[:MAX_STAFF]
    ]


def cache_key(department: str) -> str:
    return f"gw:staffdir:{{{department}}}"


async def staff_of(
    collection: AsyncCollection[dict[str, Any]], redis: Redis | None, department: str
) -> list[dict[str, Any]]:
    """The department's staff, from the cache when it holds them, else from the store (then cached).

    Raises PyMongoError when the store cannot be read. Redis is only a cache here: when it
    does not answer, the store is read (and nothing is cached).
    """
    key = cache_key(department)
    if redis is not None:
        try:
            cached = await redis.get(key)
        except RedisError as exc:
            log.warning("staff directory cache not read: %r", exc)
            cached, redis = None, None
        if cached is not None:
            return orjson.loads(cached)  # type: ignore[no-any-return]
    rows = (
        await collection.find(directory_query(department), {"_id": 1, "display_name": 1, "departments": 1})
        .sort([("display_name", 1), ("_id", 1)])
        .limit(MAX_STAFF)
        .to_list()
    )
    found = entries(rows)
    if redis is not None:
        try:
            await redis.set(key, orjson.dumps(found), ex=CACHE_TTL_S)
        except RedisError as exc:
            log.warning("staff directory not cached: %r", exc)
    return found


async def forget(redis: Redis, departments: Sequence[str]) -> None:
    """Drop the cached lists of these departments (after an account of theirs changed)."""
    if departments:
        try:
            for department in set(departments):
                await redis.delete(cache_key(department))
        except RedisError as exc:  # the entries lapse on their own within CACHE_TTL_S
            log.warning("staff directory cache not cleared: %r", exc)
