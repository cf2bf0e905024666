"""The list reads the routes (``api/``) call: each from the read model (``lists.py``) when it is
built and answering, else from the store's fallback query (``repository``), paged the same way
(the cursors are the same, so a client pages on across a switch).

The routes parse the request and shape the answer; a query these reads cannot take raises
``InvalidQuery`` (the route answers 422), and ``ReadModelDown`` passes through (503).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from snapfix_issues import lists, rules
from snapfix_issues.domain import ACTIVE_STATUSES, PRIORITY_ORDER
from snapfix_issues.paging import encode_cursor, page_in_memory
from snapfix_issues.readmodel import ReadModel
from snapfix_issues.repository import ReportRepository
from snapfix_issues.views import public_record, status_change, summary
from snapfix_shared import geo

Page = lists.Page
QueueSort = lists.QueueSort
Box = tuple[float, float, float, float]
EXPORT_LIMIT = 10_000  # of each kind: far past what one person reports, votes or follows


class InvalidQuery(ValueError):
    """A query parameter these reads cannot take: the route answers 422 naming ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class MapRebuilding(Exception):
    """The map has no store fallback: while the read model is rebuilt it is not answered."""


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# -- nearby and suggestions -------------------------------------------------------------------


async def nearby(
    repo: ReportRepository,
    model: ReadModel | None,
    *,
    lat: float,
    lon: float,
    radius_m: float,
    statuses: Sequence[str],
    category: str | None,
    since: datetime | None,
    sort: Literal["distance", "recent"],
    cursor: str | None,
    mark: tuple[float, str] | None,
    limit: int,
) -> Page:
    """Reports within ``radius_m`` of a point, closest (or newest) first, each with ``distance_m``.

    ``cursor`` is the raw cursor (the store's fallback pages by it), ``mark`` its key as the read model takes it.
    """
    if model is not None:
        return await lists.nearby(
            model,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            statuses=statuses,
            category=category,
            since=since,
            after=mark,
            limit=limit,
            sort=sort,
        )
    found = await repo.in_cells(geo.search_cells(lat, lon, radius_m), statuses=statuses, category=category, since=since)
    now = datetime.now(UTC)
    rows = []
    for issue in found:
        distance = geo.distance_m(lat, lon, issue.lat, issue.lon)
        if distance <= radius_m:
            key = (distance,) if sort == "distance" else (float(_ms(issue.created_at)),)
            rows.append((key, str(issue.id), summary(issue, now=now, distance_m=distance)))
    return page_in_memory(rows, cursor=cursor, limit=limit, descending=sort == "recent")


async def suggestions(
    repo: ReportRepository,
    model: ReadModel | None,
    *,
    lat: float,
    lon: float,
    category: str,
    radius_m: float,
    limit: int,
) -> list[dict[str, Any]]:
    """Possible duplicates before reporting: unresolved reports of the category nearby, closest first."""
    if model is not None:
        items, _ = await lists.nearby(
            model,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            statuses=ACTIVE_STATUSES,
            category=category,
            since=None,
            after=None,
            limit=limit,
        )
        return items
    found = await repo.in_cells(geo.search_cells(lat, lon, radius_m), statuses=ACTIVE_STATUSES, category=category)
    now = datetime.now(UTC)
    near = sorted(
        ((d, issue) for issue in found if (d := geo.distance_m(lat, lon, issue.lat, issue.lon)) <= radius_m),
        key=lambda pair: (pair[0], str(pair[1].id)),
    )
    return [summary(issue, now=now, distance_m=d) for d, issue in near[:limit]]


# -- the map (the read model only) ------------------------------------------------------------


def _map_model(model: ReadModel | None) -> ReadModel:
    if model is None:
        raise MapRebuilding
    return model


async def map_issues(
    model: ReadModel | None,
    box: Box,
    *,
    statuses: Sequence[str],
    category: str | None,
    mark: tuple[float, str] | None,
    limit: int,
) -> Page:
    """Reports inside a map's viewport, nearest its centre first (``MapRebuilding`` without the read model)."""
    return await lists.in_box(_map_model(model), box, statuses=statuses, category=category, after=mark, limit=limit)


async def map_cells(
    model: ReadModel | None, box: Box, *, level: int, statuses: Sequence[str], category: str | None
) -> list[dict[str, Any]]:
    """How many reports lie in each grid cell over a viewport (``InvalidQuery`` on too many cells)."""
    try:
        return await lists.cells(_map_model(model), box, level=level, statuses=statuses, category=category)
    except ValueError as exc:
        raise InvalidQuery("level", str(exc)) from exc


# -- a user's own lists -----------------------------------------------------------------------


async def reported_by(
    repo: ReportRepository, model: ReadModel | None, user_id: str, *, after: tuple[Any, str] | None, limit: int
) -> Page:
    """A user's reports, newest first, anonymous ones included."""
    if model is not None:
        return await lists.reported_by(model, user_id, after=after, limit=limit)
    try:
        mark = (_from_ms(after[0]), UUID(after[1])) if after else None
    except ValueError as exc:
        raise InvalidQuery("cursor", "not a cursor of this list") from exc
    found = await repo.by_reporter(user_id, after=mark, limit=limit + 1)
    now = datetime.now(UTC)
    items = [{**summary(i, now=now), "anonymous": i.anonymous} for i in found[:limit]]
    last = found[limit - 1] if len(found) > limit else None
    return items, encode_cursor(_ms(last.created_at), str(last.id)) if last else None


async def following(
    repo: ReportRepository, model: ReadModel | None, user_id: str, *, after: tuple[Any, str] | None, limit: int
) -> Page:
    """The issues a user follows, most recently followed first."""
    if model is not None:
        return await lists.following(model, user_id, after=after, limit=limit)
    found = await repo.following(user_id, after=(_from_ms(after[0]), after[1]) if after else None, limit=limit + 1)
    items = [{"issue_id": str(f["issue_id"]), "since": f["since"].isoformat()} for f in found[:limit]]
    last = found[limit - 1] if len(found) > limit else None
    return items, encode_cursor(_ms(last["since"]), last["_id"]) if last else None


async def export(repo: ReportRepository, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Everything this service holds about a user, as stored."""
    return await repo.export_of(user_id, EXPORT_LIMIT)


# -- staff ------------------------------------------------------------------------------------


async def staff_queue(
    repo: ReportRepository,
    model: ReadModel | None,
    *,
    departments: list[str] | None,
    statuses: Sequence[str],
    priority: str | None,
    overdue: bool | None,
    after: tuple[Any, str] | None,
    limit: int,
    sort: lists.QueueSort,
) -> Page:
    """Staff's work in the order ``sort`` asks (``lists.queue_sort_key``): from the read model (exact);
    while it is being rebuilt, from the store: at most ``MAX_CANDIDATES`` issues, read in the sort's
    order by MongoDB's indexes, ordered and paged here. ``InvalidQuery`` for a cursor of another sort."""
    try:
        mark = (lists.queue_cursor_key(sort, after[0]), after[1]) if after is not None else None
    except ValueError as exc:
        raise InvalidQuery("cursor", str(exc)) from exc
    if model is not None:
        return await lists.staff_queue(
            model,
            departments=departments,
            statuses=statuses,
            priority=priority,
            overdue=overdue,
            after=after,
            limit=limit,
            sort=sort,
        )
    found = await repo.for_departments(departments, statuses=statuses, priority=priority, sort=sort)
    now = datetime.now(UTC)
    rows = [
        (
            lists.queue_sort_key(
                sort,
                rank=PRIORITY_ORDER.index(i.priority),
                due_ms=_ms(i.due_at) if i.due_at else None,
                created_ms=_ms(i.created_at),
            ),
            str(i.id),
            summary(i, now=now),
        )
        for i in found
        if overdue is None or rules.is_overdue(i, now) == overdue
    ]
    cursor = encode_cursor(list(mark[0]), mark[1]) if mark is not None else None  # old cursors in today's form
    return page_in_memory(rows, cursor=cursor, limit=limit, descending=sort == "newest")


# -- public listings (the gateway's Open311 GeoReport v2) -------------------------------------


async def reports_in_window(
    repo: ReportRepository,
    *,
    start: datetime,
    end: datetime,
    categories: list[str],
    statuses: Sequence[str],
    skip: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Public records of the reports created in ``[start, end)``, newest first, one offset page."""
    records = await repo.in_window(
        start=start, end=end, categories=categories, statuses=statuses, skip=skip, limit=limit
    )
    return [public_record(r) for r in records]


async def status_changes(
    repo: ReportRepository, *, start: datetime, end: datetime, offset: int, limit: int
) -> list[dict[str, Any]]:
    """Status changes made in ``[start, end)``, oldest first (public fields only, no actors)."""
    changes = [
        (h.at, str(issue.id), index, issue)
        for issue in await repo.changed_since(start)
        for index, h in enumerate(issue.history)
        if start <= h.at < end
    ]
    changes.sort(key=lambda c: (c[0], c[1], c[2]))
    return [status_change(issue, index) for _, _, index, issue in changes[offset : offset + limit]]
