"""``snapfix export issues``: its arguments, and the CSV and GeoJSON it writes (no store involved)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from snapfix_cli import export
from snapfix_cli.app import app
from snapfix_issues.domain import IssueRecord

pytestmark = pytest.mark.unit
runner = CliRunner()


def make_issue(**overrides: object) -> IssueRecord:
    fields: dict[str, object] = {
        "id": uuid4(),
        "title": 'Pothole, "deep"',
        "description": "Line one\nline two",
        "category": "pothole",
        "lat": 12.9716,
        "lon": 77.5946,
        "created_at": datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        "reporter_id": "user-secret-id",
        "command_id": uuid4(),
        "correlation_id": "req-1",
        "reported_event_id": uuid4(),
        "reported_event_at": datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        **overrides,
    }
    return IssueRecord.model_validate(fields)


async def issues_of(records: Iterable[IssueRecord]) -> AsyncIterator[IssueRecord]:
    for record in records:
        yield record


async def test_csv_has_a_header_row_then_one_row_per_report_quoted_as_csv() -> None:
    first, second = make_issue(), make_issue(category="streetlight", media_ids=(uuid4(), uuid4()))
    out = io.StringIO()

    count = await export.write_csv(issues_of([first, second]), out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == 2
    assert list(rows[0]) == list(export.COLUMNS)
    assert [r["id"] for r in rows] == [str(first.id), str(second.id)]
    assert rows[0]["title"] == 'Pothole, "deep"'
    assert rows[0]["description"] == "Line one\nline two"
    assert rows[1]["media_ids"] == " ".join(str(m) for m in second.media_ids)
    assert rows[0]["due_at"] == ""


async def test_csv_defuses_text_a_spreadsheet_would_run_as_a_formula() -> None:
    out = io.StringIO()
    issue = make_issue(title='=HYPERLINK("http://evil.example")', description="+1 more", lat=-1.5, lon=-2.5)
    await export.write_csv(issues_of([issue]), out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["title"] == '\'=HYPERLINK("http://evil.example")'
    assert row["description"] == "'+1 more"
    assert (row["lat"], row["lon"]) == ("-1.5", "-2.5")


async def test_csv_never_carries_the_reporter() -> None:
    out = io.StringIO()
    await export.write_csv(issues_of([make_issue()]), out)
    assert "user-secret-id" not in out.getvalue()


async def test_geojson_is_a_feature_collection_of_points_at_lon_lat() -> None:
    first, second = make_issue(), make_issue(lat=-33.9, lon=18.4)
    out = io.StringIO()

    count = await export.write_geojson(issues_of([first, second]), out)

    doc = json.loads(out.getvalue())
    assert count == 2
    assert doc["type"] == "FeatureCollection"
    assert [f["type"] for f in doc["features"]] == ["Feature", "Feature"]
    assert doc["features"][1]["geometry"] == {"type": "Point", "coordinates": [18.4, -33.9]}
    assert doc["features"][0]["properties"]["id"] == str(first.id)
    assert "lat" not in doc["features"][0]["properties"]
    assert "user-secret-id" not in out.getvalue()


async def test_geojson_of_nothing_is_an_empty_collection() -> None:
    out = io.StringIO()
    assert await export.write_geojson(issues_of([]), out) == 0
    assert json.loads(out.getvalue()) == {"type": "FeatureCollection", "features": []}


def test_a_date_bound_covers_that_whole_day_as_an_end() -> None:
    assert export.parse_bound("2026-01-31", end=False) == datetime(2026, 1, 31, tzinfo=UTC)
    assert export.parse_bound("2026-01-31", end=True) == datetime(2026, 2, 1, tzinfo=UTC)
    assert export.parse_bound("2026-01-31T18:00:00Z", end=True) == datetime(2026, 1, 31, 18, tzinfo=UTC)
    assert export.parse_bound("2026-01-31T18:00:00", end=False) == datetime(2026, 1, 31, 18, tzinfo=UTC)


def test_the_query_filters_on_category_and_creation_time() -> None:
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert export.query_of(since, until, ["pothole"]) == {
        "category": "pothole",
        "created_at": {"$gte": since, "$lt": until},
    }
    assert export.query_of(None, None, ["a", "b", "a"]) == {"category": {"$in": ["a", "b"]}}
    assert export.query_of(None, None, []) == {}


def test_a_bad_date_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = runner.invoke(app, ["export", "issues", "--format", "csv", "--since", "2026-13-45", "-o", str(target)])
    assert result.exit_code == 2
    assert "not a date" in result.output
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_since_after_until_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    args = ["export", "issues", "-f", "csv", "--since", "2026-02-01", "--until", "2026-01-01", "-o", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "must come before" in result.output
    assert not target.exists()


def test_an_unknown_format_is_refused() -> None:
    result = runner.invoke(app, ["export", "issues", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["export", "issues", "--help"])
    assert result.exit_code == 0
    assert "Example: snapfix export issues" in result.output
