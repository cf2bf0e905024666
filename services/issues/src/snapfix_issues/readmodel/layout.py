"""The layout of the issues service's list read model in its Redis (``store.py`` reads and writes it):
its keys and the row kept for each issue. Pure: no Redis here.

The read model answers nearby, viewport, cells, queues and per-user lists.

Mongo stays the store of record; the embedded Mongo-wire server uses no index (DESIGN §4),
so every hot list is answered from here. The command consumer writes it through as it
stores each change (and fails its batch, uncommitted, when Redis cannot take the write);
it is rebuilt from Mongo by one scan when empty (``rebuild``). Until it is built, readers
fall back to the store's queries (``ready``).

Keys share the hash tag ``{issues-ix}``, so one script updates an issue's rows atomically,
on a Redis Cluster too:

- ``summary``: hash, issue id -> the issue's list row (JSON) with its index fields
- ``geo:all``, ``geo:s:<status>``, ``geo:c:<category>``, ``geo:sc:<status>:<category>``: geo sets
- ``queue:<department>:<status>`` and ``queue:*:<status>``: by priority, then due date
- ``queue-created:<department>:<status>`` and ``queue-created:*:<status>``: by creation time
  (the staff queue's ``newest`` and ``oldest`` sorts)
- ``reporter:<user>``: a user's reports by creation time
- ``following:<user>``: issue ids by follow time; ``followers:<issue>``: user ids
- ``built``: set once a rebuild has finished

Whole issues for detail reads are entries of ``cache.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from snapfix_issues.domain import PRIORITY_ORDER, IssueRecord
from snapfix_issues.views import summary

PREFIX = "issues:{issues-ix}:"
SUMMARY = PREFIX + "summary"
# Named for the model's layout: a layout that adds index keys gets a new name, so a model built
# before it is rebuilt (filled in) at the next check. v2 added the queue-created sets.
BUILT = PREFIX + "built:v2"
# Redis keeps positions on a Web Mercator grid: latitudes beyond it have no geo index.
GEO_MAX_LAT = 85.05112878
GEO_LAT_SPAN = 2 * GEO_MAX_LAT
GEO_BITS = 26  # per axis: Redis's 52-bit geo scores
# Queue scores: the priority's rank in the high bits, the due date (ms) below.
PRIORITY_BAND = 2**42
NO_DUE = PRIORITY_BAND - 1
FIRST_FETCH = 32
FIRST_REACH_M = 250.0
READY_TTL_S = 2.0


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def row_of(issue: IssueRecord) -> dict[str, Any]:
    """An issue's list row as kept in ``summary``: what lists show (``overdue`` aside: it depends
    on when it is read), and what indexes it."""
    due = _ms(issue.due_at) if issue.due_at else None
    rank = PRIORITY_ORDER.index(issue.priority)
    shown = summary(issue, now=None)
    return {
        **shown,
        # Index fields (never shown): strings where Lua's number formatting would round.
        "anonymous": issue.anonymous,
        "reporter_id": issue.reporter_id,
        "due_ms": due,
        "created_ms": str(_ms(issue.created_at)),
        "queue_score": str(rank * PRIORITY_BAND + (due if due is not None else NO_DUE)),
        "geo": abs(issue.lat) <= GEO_MAX_LAT,
        "lat_s": repr(issue.lat),
        "lon_s": repr(issue.lon),
    }


def geo_keys(statuses: Sequence[str], category: str | None) -> list[str]:
    """The geo sets whose union is exactly the issues with one of ``statuses`` (any if empty) and ``category``."""
    if statuses and category:
        return [f"{PREFIX}geo:sc:{s}:{category}" for s in statuses]
    if statuses:
        return [f"{PREFIX}geo:s:{s}" for s in statuses]
    if category:
        return [f"{PREFIX}geo:c:{category}"]
    return [f"{PREFIX}geo:all"]


def queue_key(department: str | None, status: str) -> str:
    return f"{PREFIX}queue:{department or '*'}:{status}"


def queue_created_key(department: str | None, status: str) -> str:
    return f"{PREFIX}queue-created:{department or '*'}:{status}"


def reporter_key(user_id: str) -> str:
    return f"{PREFIX}reporter:{user_id}"


def following_key(user_id: str) -> str:
    return f"{PREFIX}following:{user_id}"


def followers_key(issue_id: UUID) -> str:
    return f"{PREFIX}followers:{issue_id}"


def slack_m(distance_m: float) -> float:
    """How far Redis's distance (its own Earth radius, positions on a 52-bit grid) may be from ours."""
    return distance_m * 4e-4 + 1.0
