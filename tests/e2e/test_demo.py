"""`make demo` at a small scale against the real processes: run twice, nothing doubles, the city looks lived in."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.api import sign_in
from tests.e2e.conftest import ADMIN, System
from tests.stack import load_script

pytestmark = pytest.mark.e2e

demo = load_script("deploy/local/demo.py", "snapfix_demo")
REPORTS = 150


async def _all_reports(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/me/issues", params=params)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items


async def test_the_demo_seeds_a_city_once_however_often_it_runs(system: System) -> None:
    options = demo.Options(
        url=system.gateway,
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        reports=REPORTS,
        photos=6,
        concurrency=8,
        wait_s=90,
        quiet=True,
    )
    email = f"demo-importer-01@{demo.DOMAIN}"
    first = await demo.seed(options)
    importer = await sign_in(system, email, demo.demo_password(ADMIN[1], email))
    before = len(await _all_reports(importer))
    assert first.reports_planned == REPORTS
    assert (first.refused, first.failed) == (0, 0), first.answers
    assert len(set(first.issue_ids)) == REPORTS

    second = await demo.seed(options)
    assert second.reports_found == REPORTS
    assert (second.reports_created, second.photos_uploaded, second.transitions) == (0, 0, 0), second.answers
    assert (second.votes, second.comments, second.accounts_created, second.categories_created) == (0, 0, 0, 0)
    assert not any(a.startswith("POST /v1/issues ") for a in second.answers)  # nothing reported again
    assert set(second.issue_ids) == set(first.issue_ids)
    assert (second.refused, second.failed) == (0, 0), second.answers

    # Read back independently, as the demo's importer (an administrator, who sees every detail).
    try:
        everything = await _all_reports(importer)
        assert len(everything) == before  # not doubled (a stack seeded before may hold more than the plan)
        reports = [r for r in everything if r["id"] in set(second.issue_ids)]
        assert len(reports) == REPORTS
        west, south, east, north = demo.BBOX
        assert all(west <= r["lon"] <= east and south <= r["lat"] <= north for r in reports)
        now = datetime.now(UTC)
        times = [datetime.fromisoformat(r["created_at"]) for r in reports]
        assert min(times) >= now - timedelta(days=91)
        assert sum(t < now - timedelta(days=30) for t in times) > REPORTS // 4  # spread over the 90 days
        overdue = [r for r in reports if r["overdue"]]
        assert overdue
        assert all(datetime.fromisoformat(r["due_at"]) < now for r in overdue)
        statuses = Counter(r["status"] for r in reports)
        assert statuses == second.planned_statuses
        assert len(statuses) >= 4, statuses
        assert len({r["category"] for r in reports}) >= 5

        limit = asyncio.Semaphore(8)

        async def detail(issue_id: str) -> dict[str, Any]:
            async with limit:
                response = await importer.get(f"/v1/issues/{issue_id}")
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        details = await asyncio.gather(*(detail(r["id"]) for r in reports))
    finally:
        await importer.aclose()
    assert sum(bool(d["media_ids"]) for d in details) == second.planned_photos > 0
    assert sum(len(d["comments"]) for d in details) == second.planned_comments > 0
    assert sum(d["votes"] for d in details) == second.planned_votes > 0
    # Each status change happened once, by a demo staff member, not by the importer.
    for d in details:
        moves = [(h["from"], h["to"]) for h in d["history"]]
        assert len(moves) == len(set(moves)), d["history"]
        assert all(h["actor_id"] != d["reporter_id"] for h in d["history"] if h["from"] != h["to"])
