"""List reads answered from the read model: nearby, the map's box and cells, the staff queue, a user's lists.

Each returns one page and the cursor of the next (``paging``); the cursors are the same
as the store's fallback queries make (``api.py``), so a client pages on across a switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from snapfix_issues.domain import PRIORITY_ORDER
from snapfix_issues.paging import encode_cursor
from snapfix_issues.readmodel import (
    NO_DUE,
    PRIORITY_BAND,
    ReadModel,
    Stream,
    cell_bounds,
    cells_in_box,
    following_key,
    geo_keys,
    queue_created_key,
    queue_key,
    reporter_key,
)
from snapfix_issues.rules import SETTLED_STATUSES
from snapfix_shared import geo

# A row's fields that lists never show: they index it.
INDEX_FIELDS = frozenset({"anonymous", "reporter_id", "due_ms", "created_ms", "queue_score", "geo", "lat_s", "lon_s"})
# The store's fallback sorts issues without a due date last with this key.
FAR_FUTURE_MS = 2**53
MAX_CELLS = 4096

Page = tuple[list[dict[str, Any]], str | None]


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def list_item(row: dict[str, Any], *, at_ms: int, distance_m: float | None = None) -> dict[str, Any]:
    """A list row as lists show it (never the reporter); ``overdue`` as of ``at_ms``."""
    item = {k: v for k, v in row.items() if k not in INDEX_FIELDS}
    due = row.get("due_ms")
    item["overdue"] = due is not None and due < at_ms and row["status"] not in SETTLED_STATUSES
    if distance_m is not None:
        item["distance_m"] = round(distance_m, 1)
    return item


def _since_filter(since_ms: int | None) -> Any:
    if since_ms is None:
        return None
    return lambda row: int(row["created_ms"]) >= since_ms


async def nearby(
    model: ReadModel,
    *,
    lat: float,
    lon: float,
    radius_m: float,
    statuses: Sequence[str],
    category: str | None,
    since: datetime | None,
    after: tuple[float, str] | None,
    limit: int,
    sort: str = "distance",
) -> Page:
    keys = geo_keys(statuses, category)
    since_ms = int(since.timestamp() * 1000) if since is not None else None
    at = now_ms()
    if sort == "recent":
        rows = await model.all_near(lat, lon, keys=keys, radius_m=radius_m)
        if since_ms is not None:
            rows = [r for r in rows if int(r["created_ms"]) >= since_ms]
        keyed = sorted(((float(r["created_ms"]), r["id"]), r) for r in rows)
        keyed.reverse()
        if after is not None:
            keyed = [k for k in keyed if k[0] < after]
        page, more = keyed[:limit], len(keyed) > limit
        items = [list_item(r, at_ms=at, distance_m=geo.distance_m(lat, lon, r["lat"], r["lon"])) for _, r in page]
        return items, (encode_cursor(page[-1][0][0], page[-1][0][1]) if more else None)
    found, more = await model.near(
        lat, lon, keys=keys, radius_m=radius_m, accept=_since_filter(since_ms), after=after, limit=limit
    )
    items = [list_item(row, at_ms=at, distance_m=d) for d, row in found]
    return items, (encode_cursor(found[-1][0], found[-1][1]["id"]) if more else None)


async def in_box(
    model: ReadModel,
    box: tuple[float, float, float, float],
    *,
    statuses: Sequence[str],
    category: str | None,
    after: tuple[float, str] | None,
    limit: int,
) -> Page:
    """Reports inside a map's viewport (west, south, east, north), nearest its centre first."""
    found, more = await model.near(0, 0, keys=geo_keys(statuses, category), box=box, after=after, limit=limit)
    at = now_ms()
    items = [list_item(row, at_ms=at, distance_m=d) for d, row in found]
    return items, (encode_cursor(found[-1][0], found[-1][1]["id"]) if more else None)


async def cells(
    model: ReadModel,
    box: tuple[float, float, float, float],
    *,
    level: int,
    statuses: Sequence[str],
    category: str | None,
) -> list[dict[str, Any]]:
    """Counts of reports per grid cell of ``level`` over a viewport: the map's clusters at low zoom."""
    grid = cells_in_box(level, *box)
    if len(grid) > MAX_CELLS:
        raise ValueError(f"{len(grid)} cells at level {level}; at most {MAX_CELLS}: choose a lower level")
    counts = await model.cell_counts(geo_keys(statuses, category), grid, level)
    out = []
    for (x, y), count in zip(grid, counts, strict=True):
        if count:
            west, south, east, north = cell_bounds(level, x, y)
            out.append(
                {
                    "cell": f"{level}/{x}/{y}",
                    "count": count,
                    "bbox": [west, south, east, north],
                    "lat": (south + north) / 2,
                    "lon": (west + east) / 2,
                }
            )
    return out


QueueSort = Literal["priority", "due", "newest", "oldest"]
# The first number of a queue cursor's key names its sort, so a cursor is refused by another
# sort (``priority`` keeps its original ``[rank, due]``: ranks are never negative).
SORT_TAGS: dict[str, int] = {"due": -1, "newest": -2, "oldest": -3}


def queue_sort_key(sort: QueueSort, *, rank: int, due_ms: float | None, created_ms: float) -> tuple[float, ...]:
    """An issue's place in the queue under ``sort`` (with its id after it): what cursors carry.

    ``priority``: urgent first, then due date. ``due``: earliest due date first. Issues with
    no due date come last in both. ``newest``/``oldest``: by creation time.
    """
    due = float(due_ms) if due_ms is not None else float(FAR_FUTURE_MS)
    if sort == "priority":
        return (float(rank), due)
    if sort == "due":
        return (float(SORT_TAGS["due"]), due)
    return (float(SORT_TAGS[sort]), float(created_ms))


def queue_cursor_key(sort: QueueSort, key: Any) -> tuple[float, ...]:
    """A queue cursor's key, checked to belong to ``sort`` (ValueError when it does not)."""
    values = tuple(float(k) for k in key) if isinstance(key, list) else (float(key),)
    if sort == "priority" and len(values) == 1:  # cursors of old: the queue score itself
        return (values[0] // PRIORITY_BAND, _due_of(values[0] % PRIORITY_BAND))
    if len(values) != 2 or (values[0] < 0) != (sort != "priority"):
        raise ValueError("not a cursor of this list (or of another sort)")
    if sort != "priority" and values[0] != SORT_TAGS[sort]:
        raise ValueError("not a cursor of this list (or of another sort)")
    return values


def _due_of(due: float) -> float:
    return float(FAR_FUTURE_MS) if due >= NO_DUE else due


async def staff_queue(
    model: ReadModel,
    *,
    departments: Sequence[str] | None,
    statuses: Sequence[str],
    priority: str | None,
    overdue: bool | None,
    after: tuple[Any, str] | None,
    limit: int,
    sort: QueueSort = "priority",
) -> Page:
    """Staff's work in the order ``sort`` asks (``queue_sort_key``), then by id."""
    at = now_ms()
    mark_key = queue_cursor_key(sort, after[0]) if after is not None else None
    if sort in {"newest", "oldest"}:
        return await _by_creation(
            model, departments=departments, statuses=statuses, priority=priority, overdue=overdue,
            after=(mark_key, after[1]) if mark_key is not None and after is not None else None,
            limit=limit, descending=sort == "newest", at=at,
        )  # fmt: skip
    ranks = [PRIORITY_ORDER.index(priority)] if priority else list(range(len(PRIORITY_ORDER)))
    streams = []
    for department in departments if departments is not None else [None]:
        for status in statuses:
            key = queue_key(department, status)
            for rank in ranks:
                low, high = rank * PRIORITY_BAND, (rank + 1) * PRIORITY_BAND - 1
                if overdue is not None and status not in SETTLED_STATUSES:
                    split = rank * PRIORITY_BAND + at
                    # Issues without a due date sit at the band's top: never overdue.
                    low, high = (low, split - 1) if overdue else (split, high)
                elif overdue:
                    continue  # settled issues are never overdue
                # By due date alone, each priority's band is shifted onto one scale.
                streams.append(Stream(key, low, high, shift=rank * PRIORITY_BAND if sort == "due" else 0.0))
    mark: tuple[float, str] | None = None
    if mark_key is not None and after is not None:
        mark_due = min(mark_key[1], NO_DUE)
        mark = (mark_due if sort == "due" else mark_key[0] * PRIORITY_BAND + mark_due, after[1])
    found, more = await model.merged(streams, after=mark, limit=limit)
    rows = await model.rows([member for _, member in found])
    items = [list_item(rows[m], at_ms=at) for _, m in found if m in rows]
    next_cursor = None
    if more:
        score, last = found[-1]
        band, last_due = (0.0, score) if sort == "due" else divmod(score, PRIORITY_BAND)
        last_key = queue_sort_key(sort, rank=int(band), due_ms=None if last_due >= NO_DUE else last_due, created_ms=0)
        next_cursor = encode_cursor(list(last_key), last)
    return items, next_cursor


async def _by_creation(
    model: ReadModel,
    *,
    departments: Sequence[str] | None,
    statuses: Sequence[str],
    priority: str | None,
    overdue: bool | None,
    after: tuple[tuple[float, ...], str] | None,
    limit: int,
    descending: bool,
    at: int,
) -> Page:
    """The queue by creation time, from the ``queue-created`` sets. Priority and overdue are not
    in those scores: rows are filtered as they are read, and reading goes on from the last row
    read until a page is full (the cursor names the last row shown, so paging stays exact)."""
    streams = [
        Stream(queue_created_key(d, s)) for d in (departments if departments is not None else [None]) for s in statuses
    ]

    def wanted(row: dict[str, Any]) -> bool:
        if priority is not None and row["priority"] != priority:
            return False
        if overdue is not None:
            return bool(list_item(row, at_ms=at)["overdue"]) == overdue
        return True

    mark = (after[0][1], after[1]) if after is not None else None
    taken: list[tuple[float, str, dict[str, Any]]] = []
    chunk = max(limit + 1, 50)
    while len(taken) <= limit:
        found, more = await model.merged(streams, after=mark, limit=chunk, descending=descending)
        rows = await model.rows([m for _, m in found])
        taken.extend((score, m, rows[m]) for score, m in found if m in rows and wanted(rows[m]))
        if not more or not found:
            break
        mark = found[-1]
    page = taken[:limit]
    items = [list_item(row, at_ms=at) for _, _, row in page]
    next_cursor = None
    if len(taken) > limit:
        score, last, _ = page[-1]
        tag = SORT_TAGS["newest" if descending else "oldest"]
        next_cursor = encode_cursor([float(tag), score], last)
    return items, next_cursor


async def reported_by(model: ReadModel, user_id: str, *, after: tuple[Any, str] | None, limit: int) -> Page:
    """A user's reports, newest first, anonymous ones included with their flag."""
    mark = (float(after[0]), after[1]) if after is not None else None
    found, more = await model.merged([Stream(reporter_key(user_id))], after=mark, limit=limit, descending=True)
    rows = await model.rows([m for _, m in found])
    at = now_ms()
    items = [{**list_item(rows[m], at_ms=at), "anonymous": rows[m]["anonymous"]} for _, m in found if m in rows]
    return items, (encode_cursor(int(found[-1][0]), found[-1][1]) if more else None)


async def following(model: ReadModel, user_id: str, *, after: tuple[Any, str] | None, limit: int) -> Page:
    """The issues a user follows, most recently followed first."""
    mark = (float(after[0]), after[1].split(":", 1)[0]) if after is not None else None
    found, more = await model.merged([Stream(following_key(user_id))], after=mark, limit=limit, descending=True)
    items: list[dict[str, Any]] = [
        {"issue_id": m, "since": datetime.fromtimestamp(score / 1000, UTC).isoformat()} for score, m in found
    ]
    last = found[-1] if found else None
    return items, (encode_cursor(int(last[0]), f"{last[1]}:{user_id}") if more and last else None)
