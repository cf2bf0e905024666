"""``snapfix export issues`` against the real store: exactly the reports the filters name, as CSV and GeoJSON.

The command runs as its own process (``python -m snapfix_cli``), as an operator runs it, on a
database of this test's own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from pymongo import AsyncMongoClient

from snapfix_issues.domain import IssueRecord
from snapfix_issues.models import Category, Report
from snapfix_issues.repository import ReportRepository
from snapfix_shared.mongo import init_documents
from tests.stack import ROOT, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def snapfix(*args: str, env: dict[str, str], timeout_s: float = 90) -> tuple[int, str, str]:
    """Run ``snapfix ARGS`` as its own process; (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "snapfix_cli",
        *args,
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def report(category: str, created_at: datetime, lat: float = 12.97, lon: float = 77.59) -> IssueRecord:
    return IssueRecord(
        id=uuid4(),
        title=f"A {category} report",
        category=category,
        lat=lat,
        lon=lon,
        created_at=created_at,
        reporter_id="reporter-1",
        command_id=uuid4(),
        correlation_id="req",
        reported_event_id=uuid4(),
        reported_event_at=created_at,
    )


@pytest.fixture
async def store(stack: Stack) -> AsyncIterator[tuple[dict[str, str], dict[str, IssueRecord]]]:
    database = f"snapfix_issues_cli_export_{uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    await init_documents(client, database, [Report, Category])
    reports = {
        "january_pothole": report("pothole", datetime(2026, 1, 10, 8, tzinfo=UTC), lat=12.9716, lon=77.5946),
        "last_day_pothole": report("pothole", datetime(2026, 1, 31, 23, 59, tzinfo=UTC)),
        "february_pothole": report("pothole", datetime(2026, 2, 1, 0, 0, tzinfo=UTC)),
        "december_pothole": report("pothole", datetime(2025, 12, 31, 23, 0, tzinfo=UTC)),
        "january_streetlight": report("streetlight", datetime(2026, 1, 20, tzinfo=UTC)),
    }
    assert await ReportRepository().insert_new(list(reports.values())) == set()  # none stored before
    env = {
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_REDIS_URL": stack.redis_url,
        "SNAPFIX_MONGO_DATABASE": database,
    }
    yield env, reports
    await client.drop_database(database)
    await client.close()


def ids(*records: IssueRecord) -> set[str]:
    return {str(r.id) for r in records}


async def test_csv_holds_exactly_the_reports_of_the_period_and_category(
    store: tuple[dict[str, str], dict[str, IssueRecord]], tmp_path: Path
) -> None:
    env, reports = store
    target = tmp_path / "january.csv"
    args = ["export", "issues", "--format", "csv", "--since", "2026-01-01", "--until", "2026-01-31"]
    code, _, err = await snapfix(*args, "--category", "pothole", "--output", str(target), env=env)

    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert {r["id"] for r in rows} == ids(reports["january_pothole"], reports["last_day_pothole"])
    assert [r["id"] for r in rows] == [str(reports["january_pothole"].id), str(reports["last_day_pothole"].id)]
    assert rows[0]["category"] == "pothole"
    assert rows[0]["created_at"] == "2026-01-10T08:00:00+00:00"
    assert "reporter-1" not in target.read_text(encoding="utf-8")
    assert os.listdir(tmp_path) == ["january.csv"]  # no partial file left


async def test_geojson_is_a_feature_collection_of_exactly_the_filtered_reports(
    store: tuple[dict[str, str], dict[str, IssueRecord]],
) -> None:
    env, reports = store
    args = ["export", "issues", "-f", "geojson", "--since", "2026-01-01", "--until", "2026-01-31T12:00:00Z"]
    code, out, err = await snapfix(*args, env=env)

    assert code == 0, err
    doc = json.loads(out)
    assert doc["type"] == "FeatureCollection"
    features = {f["id"]: f for f in doc["features"]}
    assert set(features) == ids(reports["january_pothole"], reports["january_streetlight"])
    point = features[str(reports["january_pothole"].id)]["geometry"]
    assert point == {"type": "Point", "coordinates": [77.5946, 12.9716]}
    assert all(UUID(f["properties"]["id"]) for f in doc["features"])


async def test_an_unknown_category_is_refused_and_nothing_is_written(
    store: tuple[dict[str, str], dict[str, IssueRecord]], tmp_path: Path
) -> None:
    env, _ = store
    target = tmp_path / "out.geojson"
    code, out, err = await snapfix(
        "export", "issues", "-f", "geojson", "--category", "no-such-category", "-o", str(target), env=env
    )

    assert code == 1
    assert "unknown category no-such-category" in err
    assert out == ""
    assert os.listdir(tmp_path) == []
