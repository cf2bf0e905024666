"""Nearby search geometry, cursors, and what each viewer sees of an issue."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pygeohash
import pytest
from uuid_utils.compat import uuid7

from snapfix_issues.catalogue import Catalogue, seed_categories
from snapfix_issues.domain import CommentRecord, HistoryEntry, IssueRecord
from snapfix_issues.paging import BadCursor, decode_cursor, encode_cursor, page_in_memory
from snapfix_issues.records import new_report
from snapfix_issues.views import detail, summary
from snapfix_shared import geo
from snapfix_shared.messages.base import utcnow
from snapfix_shared.viewer import Viewer
from tests.builders import make_report_command

pytestmark = pytest.mark.unit

CATALOGUE = Catalogue(seed_categories())


# -- geohash cells -------------------------------------------------------------------------


@pytest.mark.parametrize("radius_m", [10, 150, 1000, 5000, 50_000])
@pytest.mark.parametrize("lat", [0.0, 52.52, -33.9, 69.6])
def test_the_chosen_cells_are_at_least_the_radius_and_the_next_finer_are_not(lat: float, radius_m: int) -> None:
    precision = geo.search_precision(lat, radius_m)
    assert min(geo.cell_size_m(precision, lat)) >= radius_m
    if precision < geo.STORED_PRECISION:  # the finest that is big enough
        edge = abs(lat) + radius_m / geo.METRES_PER_DEGREE
        assert min(geo.cell_size_m(precision + 1, edge)) < radius_m


def test_cells_get_narrower_towards_the_poles() -> None:
    assert geo.cell_size_m(5, 60.0)[1] == pytest.approx(geo.cell_size_m(5, 0.0)[1] / 2, rel=1e-6)
    assert geo.search_precision(0.0, 3000) >= geo.search_precision(70.0, 3000)


def test_the_search_takes_the_cell_and_its_8_neighbours() -> None:
    cells = geo.search_cells(52.52, 13.405, 1000)
    assert len(cells) == 9
    assert len({len(c) for c in cells}) == 1
    assert pygeohash.encode(52.52, 13.405, len(cells[0])) == cells[0]


def test_a_point_across_a_cell_border_is_found() -> None:
    # A point just inside the western edge of its cell, and one 100 m west (in the next cell).
    radius_m = 300
    precision = geo.search_precision(52.52, radius_m)
    box = pygeohash.get_bounding_box(pygeohash.encode(52.52, 13.405, precision))
    here = (52.52, box.min_lon + 0.0001)
    there = (52.52, box.min_lon - 0.0014)  # ~100 m west at this latitude
    assert pygeohash.encode(*here, precision) != pygeohash.encode(*there, precision)
    assert geo.distance_m(*here, *there) < radius_m

    cells = geo.search_cells(*here, radius_m)
    stored = geo.encode(*there)
    assert any(stored.startswith(cell) for cell in cells)
    assert not stored.startswith(cells[0])  # found through a neighbour, not the centre cell


def test_haversine_distance() -> None:
    # One degree of latitude is about 111.2 km everywhere.
    assert geo.distance_m(10.0, 20.0, 11.0, 20.0) == pytest.approx(111_195, rel=1e-3)
    assert geo.distance_m(52.52, 13.405, 52.52, 13.405) == 0


# -- cursors -------------------------------------------------------------------------------


def test_a_cursor_round_trips() -> None:
    item = str(uuid7())
    assert decode_cursor(encode_cursor([0.0, 1234.5], item)) == ([0.0, 1234.5], item)
    assert decode_cursor(encode_cursor(17.25, item)) == (17.25, item)


@pytest.mark.parametrize("cursor", ["not-base64!!", "e30", encode_cursor("text", "x")], ids=["junk", "empty", "text"])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_pages_follow_each_other_without_gaps_or_repeats() -> None:
    rows = [((float(i % 3),), f"id-{i:02d}", i) for i in range(10)]  # ties on the key, broken by id
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        items, cursor = page_in_memory(rows, cursor=cursor, limit=3)
        seen += items
        if cursor is None:
            break
    assert sorted(seen) == list(range(10))
    assert len(seen) == 10


# -- views ---------------------------------------------------------------------------------


def an_anonymous_report() -> tuple[IssueRecord, list[CommentRecord]]:
    command = make_report_command(actor_id="citizen-7", actor_role="citizen", anonymous=True)
    issue = new_report(command, CATALOGUE.get("pothole"))
    history = HistoryEntry(at=utcnow(), from_status="resolved", to_status="reopened", actor_id="citizen-7")
    issue = issue.model_copy(update={"status": "reopened", "history": (history,)})

    def comment(body: str, author: str, *, internal: bool) -> CommentRecord:
        return CommentRecord(
            id=uuid7(),
            issue_id=issue.id,
            author_id=author,
            body=body,
            internal=internal,
            created_at=utcnow(),
            command_id=uuid7(),
            correlation_id="test",
            event_id=uuid7(),
            event_at=utcnow(),
        )

    return issue, [comment("Still broken", "citizen-7", internal=False), comment("Crew Tue", "staff-1", internal=True)]


def test_an_anonymous_reporter_is_hidden_from_the_public() -> None:
    issue, comments = an_anonymous_report()
    for viewer in (Viewer(), Viewer(user_id="someone-else", role="citizen")):
        view = detail(issue, comments, viewer, now=utcnow())
        assert view["reporter_id"] is None
        # ... and not given away by their own actions either
        assert [h["actor_id"] for h in view["history"]] == [None]  # type: ignore[attr-defined]
        assert [c["author_id"] for c in view["comments"]] == [None]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "viewer",
    [
        Viewer(user_id="staff-1", role="staff", departments=frozenset({"parks"})),
        Viewer(user_id="admin-1", role="admin"),
        Viewer(user_id="citizen-7", role="citizen"),
    ],
    ids=["staff", "admin", "the-reporter"],
)
def test_an_anonymous_reporter_is_visible_to_staff_and_to_themselves(viewer: Viewer) -> None:
    issue, comments = an_anonymous_report()
    assert detail(issue, comments, viewer, now=utcnow())["reporter_id"] == "citizen-7"


def test_a_named_reporter_is_public() -> None:
    issue = new_report(make_report_command(actor_id="citizen-8"), CATALOGUE.get("pothole"))
    assert detail(issue, [], Viewer(), now=utcnow())["reporter_id"] == "citizen-8"


def test_internal_comments_are_shown_to_staff_only() -> None:
    issue, comments = an_anonymous_report()
    public = detail(issue, comments, Viewer(user_id="c", role="citizen"), now=utcnow())["comments"]
    staff = detail(issue, comments, Viewer(user_id="s", role="staff"), now=utcnow())["comments"]
    assert [c["body"] for c in public] == ["Still broken"]  # type: ignore[attr-defined]
    assert [c["body"] for c in staff] == ["Still broken", "Crew Tue"]  # type: ignore[attr-defined]


def test_lists_never_show_the_reporter_and_overdue_is_computed_on_read() -> None:
    command = make_report_command(actor_id=f"citizen-{uuid4().hex[:6]}", occurred_at=utcnow() - timedelta(days=4))
    issue = new_report(command, CATALOGUE.get("pothole"))  # 72 h SLA: overdue by now
    view = summary(issue, now=utcnow(), distance_m=12.345)
    assert "reporter_id" not in view
    assert view["overdue"] is True
    assert view["distance_m"] == 12.3
