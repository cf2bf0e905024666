"""Reads and writes of the issues service's list read model in its Redis (``layout.py`` names its keys).

Mongo stays the store of record; the embedded Mongo-wire server uses no index (DESIGN §4),
so every hot list is answered from here. The command consumer writes it through as it
stores each change (and fails its batch, uncommitted, when Redis cannot take the write);
it is rebuilt from Mongo by one scan when empty (``service/rebuild.py``). Until it is built, readers
fall back to the store's queries (``ready``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from snapfix_issues.domain import IssueRecord
from snapfix_issues.readmodel.geometry import (
    Row,
    Stream,
    _after,
    _box_searches,
    _circle_searches,
    _reach,
    _score,
    cell_score,
)
from snapfix_issues.readmodel.layout import (
    BUILT,
    FIRST_FETCH,
    FIRST_REACH_M,
    GEO_BITS,
    PREFIX,
    READY_TTL_S,
    SUMMARY,
    followers_key,
    following_key,
    reporter_key,
    row_of,
    slack_m,
)
from snapfix_shared import geo
from snapfix_shared.breakers import REDIS_DOWN, Breakers, CircuitOpen

log = logging.getLogger(__name__)


# Moves issues' rows from their old attributes to their new ones. ARGV: prefix, mode ('put'
# overwrites; 'fill', a rebuild's, leaves a row the consumer wrote alone), then id, row of each.
_INDEX = """
local p, mode = ARGV[1], ARGV[2]
local function s(v) if v == nil or v == cjson.null then return '' end return tostring(v) end
local written = 0
for i = 3, #ARGV, 2 do
  local id, raw = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], id)
  if not (old and mode == 'fill') then
    if old then
      local o = cjson.decode(old)
      redis.call('ZREM', p .. 'geo:all', id)
      redis.call('ZREM', p .. 'geo:s:' .. s(o.status), id)
      redis.call('ZREM', p .. 'geo:c:' .. s(o.category), id)
      redis.call('ZREM', p .. 'geo:sc:' .. s(o.status) .. ':' .. s(o.category), id)
      redis.call('ZREM', p .. 'queue:' .. s(o.department) .. ':' .. s(o.status), id)
      redis.call('ZREM', p .. 'queue:*:' .. s(o.status), id)
      redis.call('ZREM', p .. 'queue-created:' .. s(o.department) .. ':' .. s(o.status), id)
      redis.call('ZREM', p .. 'queue-created:*:' .. s(o.status), id)
    end
    local row = cjson.decode(raw)
    redis.call('HSET', KEYS[1], id, raw)
    if row.geo then
      for _, key in ipairs({'geo:all', 'geo:s:' .. s(row.status), 'geo:c:' .. s(row.category),
                            'geo:sc:' .. s(row.status) .. ':' .. s(row.category)}) do
        redis.call('GEOADD', p .. key, row.lon_s, row.lat_s, id)
      end
    end
    redis.call('ZADD', p .. 'queue:' .. s(row.department) .. ':' .. s(row.status), row.queue_score, id)
    redis.call('ZADD', p .. 'queue:*:' .. s(row.status), row.queue_score, id)
    redis.call('ZADD', p .. 'queue-created:' .. s(row.department) .. ':' .. s(row.status), row.created_ms, id)
    redis.call('ZADD', p .. 'queue-created:*:' .. s(row.status), row.created_ms, id)
    if s(row.reporter_id) ~= '' then
      redis.call('ZADD', p .. 'reporter:' .. s(row.reporter_id), row.created_ms, id)
    end
    written = written + 1
  else
    -- A fill over a row the consumer wrote: the row stands; index it in sets a model built
    -- by an older layout lacks (idempotent).
    local o = cjson.decode(old)
    if o.created_ms then
      redis.call('ZADD', p .. 'queue-created:' .. s(o.department) .. ':' .. s(o.status), o.created_ms, id)
      redis.call('ZADD', p .. 'queue-created:*:' .. s(o.status), o.created_ms, id)
    end
  end
end
return written
"""


class ReadModelDown(RuntimeError):
    """Redis cannot answer for the read model: the caller falls back (reads) or retries (writes)."""


async def run_batched(
    redis: Redis,
    script: AsyncScript,
    items: Sequence[tuple[list[str], list[Any]]],
    shared: Sequence[Any] = (),
) -> None:
    """Run ``script`` over items of (keys, args), after the ``shared`` args: in one call on one Redis;
    one call per item on a cluster, where an item's keys share a slot but items do not."""
    if not items:
        return
    if isinstance(redis, RedisCluster):
        await asyncio.gather(*(script(keys=keys, args=[*shared, *args]) for keys, args in items))
        return
    await script(keys=[k for keys, _ in items for k in keys], args=[*shared, *(a for _, args in items for a in args)])


class ReadModel:
    """Reads and writes of the list read model; Redis failures surface as ``ReadModelDown``."""

    def __init__(self, redis: Redis, breakers: Breakers | None = None) -> None:
        self.redis = redis
        self.breakers = breakers or Breakers("issues")
        self._index = redis.register_script(_INDEX)
        self._ready_until = 0.0
        # The consumer's batches and a rebuild never interleave in one process.
        self.writing = asyncio.Lock()

    # -- writes (the consumer, a rebuild) --------------------------------------------------

    async def index(self, issues: Iterable[IssueRecord], *, fill: bool = False) -> None:
        """Write each issue's row and move it between the sets its attributes put it in."""
        rows = [row_of(issue) for issue in issues]
        if not rows:
            return
        args = [a for row in rows for a in (row["id"], orjson.dumps(row))]
        try:  # one call: every key it touches shares the hash tag
            await self._index(keys=[SUMMARY], args=[PREFIX, "fill" if fill else "put", *args])
        except RedisError as exc:
            raise ReadModelDown(f"the read model did not take {len(rows)} rows: {exc!r}") from exc

    async def follows(self, changes: Sequence[tuple[UUID, str, bool, int]], *, keep_since: bool = False) -> None:
        """(issue, user, active, since in ms) for each change of who follows what.

        ``keep_since``: a user who follows already keeps the time they began.
        """
        if not changes:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for issue_id, user_id, active, since_ms in changes:
                    if active:
                        pipe.zadd(following_key(user_id), {str(issue_id): since_ms}, nx=keep_since)
                        pipe.sadd(followers_key(issue_id), user_id)
                    else:
                        pipe.zrem(following_key(user_id), str(issue_id))
                        pipe.srem(followers_key(issue_id), user_id)
                await pipe.execute()
        except RedisError as exc:
            raise ReadModelDown(f"the read model did not take {len(changes)} follows: {exc!r}") from exc

    async def reported_by(self, user_id: str) -> list[str]:
        """The ids listed as ``user_id``'s reports (what erasing them must reach)."""
        found = await self._call("reported_by", self.redis.zrange(reporter_key(user_id), 0, -1))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def forget_user(self, user_id: str) -> None:
        """Drop ``user_id``'s own lists (their reports, what they follow): after erasing the rows that name them."""
        await self._call("forget_user", self.redis.delete(reporter_key(user_id), following_key(user_id)))

    async def mark_built(self) -> None:
        await self.redis.set(BUILT, str(time.time()))
        self._ready_until = time.monotonic() + READY_TTL_S

    # -- reads ------------------------------------------------------------------------------

    async def ready(self) -> bool:
        """Built, and Redis answers (known for a moment, so a read costs no extra round trip)."""
        if time.monotonic() < self._ready_until:
            return True
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                built = await self.redis.exists(BUILT)
        except (RedisError, CircuitOpen):
            return False
        if built:
            self._ready_until = time.monotonic() + READY_TTL_S
        return bool(built)

    def forget_ready(self) -> None:
        self._ready_until = 0.0

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                return await coro
        except (RedisError, CircuitOpen) as exc:
            raise ReadModelDown(f"{what}: {exc!r}") from exc

    async def rows(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        raw = await self._call("rows", self.redis.hmget(SUMMARY, list(ids)))
        return {i: orjson.loads(r) for i, r in zip(ids, raw, strict=True) if r}

    async def follows_issue(self, issue_id: UUID, user_id: str) -> bool:
        """Whether the user follows the issue: one set membership check."""
        return bool(await self._call("follows_issue", self.redis.sismember(followers_key(issue_id), user_id)))

    async def audience(self, issue_id: UUID) -> list[str] | None:
        """The reporter and the followers; None when the issue is not in the read model."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(SUMMARY, str(issue_id))
            pipe.smembers(followers_key(issue_id))
            raw, followers = await self._call("audience", pipe.execute())
        if not raw:
            return None
        reporter = orjson.loads(raw).get("reporter_id")
        users = ([reporter] if reporter else []) + sorted(m.decode() if isinstance(m, bytes) else m for m in followers)
        return list(dict.fromkeys(users))

    async def near(
        self,
        lat: float,
        lon: float,
        *,
        keys: Sequence[str],
        radius_m: float | None = None,
        box: tuple[float, float, float, float] | None = None,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        after: Row | None = None,
        limit: int,
    ) -> tuple[list[tuple[float, dict[str, Any]]], bool]:
        """Rows within ``radius_m`` of the point (or in ``box``: west, south, east, north), closest first.

        Exact and complete: distances are ours (haversine on the stored position). Redis is
        asked for the ``k`` nearest of each set within a reach that starts small (a dense city
        holds thousands of reports within a few km, and Redis reads every one in its reach);
        every row nearer than the reach, and nearer than the farthest of a full answer (less
        the slack between Redis's distance and ours), is known to be there. The reach, or
        ``k``, grows until the page after ``after`` is certain.
        Returns ((distance, row) pairs of one page, whether more follow).
        """
        if box is not None:
            centre, box_searches = _box_searches(*box)
            west, south, east, north = box
            full = max(geo.distance_m(*centre, lat_, lon_) for lat_ in (south, north) for lon_ in (west, east))
        else:
            assert radius_m is not None
            centre, box_searches, full = (lat, lon), [], radius_m
        k, reach = FIRST_FETCH + limit, FIRST_REACH_M
        rows: dict[str, dict[str, Any]] = {}
        while True:
            whole = reach >= full
            searches = box_searches if whole and box is not None else _circle_searches(*centre, min(reach, full))
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    for search in searches:
                        pipe.geosearch(key, **search.args(), unit="m", sort="ASC", count=k, withdist=True)
                answers = await self._call("near", pipe.execute())
            bound = math.inf if whole else reach  # beyond the reach, nothing is known yet
            full_answer = False
            wanted: list[str] = []
            for index, answer in enumerate(answers):
                if len(answer) >= k:  # full: what it left out is at least this far from our centre
                    full_answer = True
                    last = float(answer[-1][1])
                    bound = min(bound, last - slack_m(last) - searches[index % len(searches)].offset_m)
                wanted += [(m.decode() if isinstance(m, bytes) else m) for m, _ in answer]
            missing = [i for i in dict.fromkeys(wanted) if i not in rows]
            rows.update(await self.rows(missing))
            found = [
                (distance, issue_id, row)
                for issue_id in dict.fromkeys(wanted)
                if (row := rows.get(issue_id)) is not None
                and (distance := _reach(row, centre, radius_m, box, accept)) is not None
                and distance < bound
                and _after((distance, issue_id), after, descending=False)
            ]
            found.sort(key=lambda f: (f[0], f[1]))
            if len(found) > limit or bound == math.inf:
                return [(d, row) for d, _, row in found[:limit]], len(found) > limit
            if full_answer:
                k *= 4
            else:
                reach *= 4

    async def all_near(self, lat: float, lon: float, *, keys: Sequence[str], radius_m: float) -> list[dict[str, Any]]:
        """Every row within ``radius_m`` (for orders other than distance)."""
        searches = _circle_searches(lat, lon, radius_m)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                for search in searches:
                    pipe.geosearch(key, **search.args(), unit="m")
            answers = await self._call("all_near", pipe.execute())
        ids = list(dict.fromkeys(m.decode() if isinstance(m, bytes) else m for answer in answers for m in answer))
        rows = await self.rows(ids)
        return [r for r in rows.values() if geo.distance_m(lat, lon, r["lat"], r["lon"]) <= radius_m]

    async def merged(
        self, streams: Sequence[Stream], *, after: Row | None, limit: int, descending: bool = False
    ) -> tuple[list[Row], bool]:
        """One page of (score, member) from the union of sorted sets, after ``after``; and whether more follow."""
        k = FIRST_FETCH + limit
        while True:
            async with self.redis.pipeline(transaction=False) as pipe:
                for s in streams:
                    low, high = _range_after(s, after, descending)
                    if descending:
                        pipe.zrevrangebyscore(s.key, _score(high), _score(low), start=0, num=k, withscores=True)
                    else:
                        pipe.zrangebyscore(s.key, _score(low), _score(high), start=0, num=k, withscores=True)
                answers = await self._call("merged", pipe.execute())
            ordered, bound = _union(streams, answers, after=after, fetched=k, descending=descending)
            if len(ordered) > limit or bound is None:
                return ordered[:limit], len(ordered) > limit
            k *= 4

    async def cell_counts(self, keys: Sequence[str], cells: Sequence[tuple[int, int]], level: int) -> list[int]:
        """How many members of the union of ``keys`` lie in each grid cell."""
        span = 1 << (2 * (GEO_BITS - level))
        async with self.redis.pipeline(transaction=False) as pipe:
            for x, y in cells:
                low = cell_score(level, x, y)
                for key in keys:
                    pipe.zcount(key, low, f"({low + span}")
            counts = await self._call("cells", pipe.execute())
        per = len(keys)
        return [sum(counts[i * per : (i + 1) * per]) for i in range(len(cells))]


def _range_after(stream: Stream, after: Row | None, descending: bool) -> tuple[float, float]:
    """The stream's score range still to read after ``after`` (inclusive: ties are told apart by id)."""
    low, high = stream.low, stream.high
    if after is None:
        return low, high
    mark = after[0] + stream.shift
    return (low, min(high, mark)) if descending else (max(low, mark), high)


def _union(
    streams: Sequence[Stream], answers: Sequence[Any], *, after: Row | None, fetched: int, descending: bool
) -> tuple[list[Row], Row | None]:
    """The rows after ``after`` of every stream's answer, in order, and the bound they are complete to.

    A stream that gave all ``fetched`` rows asked for may hold more beyond its last; the rows past the
    nearest such last row are dropped (another read fetches more). The bound is None when every stream
    gave all it had."""
    bound: Row | None = None
    found: dict[str, Row] = {}
    for s, answer in zip(streams, answers, strict=True):
        rows = [(float(score) - s.shift, m.decode() if isinstance(m, bytes) else m) for m, score in answer]
        if len(rows) >= fetched:
            last = rows[-1]
            bound = last if bound is None else (max(bound, last) if descending else min(bound, last))
        found.update((row[1], row) for row in rows if _after(row, after, descending))
    ordered = sorted(found.values(), reverse=descending)
    if bound is not None:
        ordered = [r for r in ordered if (r >= bound if descending else r <= bound)]
    return ordered, bound
