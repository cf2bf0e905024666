"""A report dated in the past (``reported_at``): an administrator's historical import, through the real processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, sign_in, staff
from tests.e2e.conftest import ADMIN, System

pytestmark = pytest.mark.e2e


async def test_an_administrator_imports_an_old_report_which_is_overdue_at_once(system: System) -> None:
    admin = await sign_in(system, *ADMIN)
    try:
        reported_at = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=123000)
        body = make_report_body(category="pothole", lat=12.9352, lon=77.6245, reported_at=reported_at.isoformat())
        response = await admin.post("/v1/issues", json=body)
        assert response.status_code == 202, response.text
        issue = await eventually(admin, response.headers["location"], lambda _: True)
        assert datetime.fromisoformat(issue["created_at"]) == reported_at
        assert datetime.fromisoformat(issue["due_at"]) == reported_at + timedelta(hours=72)  # pothole's SLA
        assert issue["overdue"] is True
        assert issue["status"] == "open"
    finally:
        await admin.aclose()


async def test_a_report_without_reported_at_is_dated_now(system: System) -> None:
    admin = await sign_in(system, *ADMIN)
    try:
        before = datetime.now(UTC) - timedelta(seconds=5)
        response = await admin.post("/v1/issues", json=make_report_body(category="pothole"))
        assert response.status_code == 202, response.text
        issue = await eventually(admin, response.headers["location"], lambda _: True)
        assert datetime.fromisoformat(issue["created_at"]) >= before
        assert issue["overdue"] is False
    finally:
        await admin.aclose()


async def test_only_an_administrator_may_date_a_report(system: System) -> None:
    reported_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for client in (await citizen(system), await staff(system, "roads")):
        try:
            response = await client.post("/v1/issues", json=make_report_body(reported_at=reported_at))
            assert response.status_code == 403, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "reported_at" in response.json()["detail"]
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    "offset", [timedelta(days=366), -timedelta(hours=1)], ids=["more than a year back", "in the future"]
)
async def test_a_report_time_outside_the_past_year_is_refused(system: System, offset: timedelta) -> None:
    admin = await sign_in(system, *ADMIN)
    try:
        reported_at = (datetime.now(UTC) - offset).isoformat()
        response = await admin.post("/v1/issues", json=make_report_body(reported_at=reported_at))
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["reported_at"]
    finally:
        await admin.aclose()


async def test_a_report_time_without_a_zone_is_refused(system: System) -> None:
    admin = await sign_in(system, *ADMIN)
    try:
        response = await admin.post("/v1/issues", json=make_report_body(reported_at="2026-01-01T10:00:00"))
        assert response.status_code == 422, response.text
    finally:
        await admin.aclose()
