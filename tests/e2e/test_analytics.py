"""The dashboard API through the gateway: staff only, problem+json for bad parameters, the CSV
export streamed through. (The numbers themselves: tests/integration/test_analytics_*.py.)"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.api import citizen, staff
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


async def test_analytics_are_for_staff_only(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        assert (await anonymous.get("/v1/analytics/summary")).status_code == 401
    resident = await citizen(system)
    try:
        response = await resident.get("/v1/analytics/summary")
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    finally:
        await resident.aclose()


async def test_bad_parameters_are_a_problem_naming_the_field(system: System) -> None:
    crew = await staff(system, "roads")
    try:
        for path, params, field in [
            ("/v1/analytics/summary", {"bbox": "13,52,nope"}, "bbox"),
            ("/v1/analytics/summary", {"area": "u33dbx"}, "area"),
            ("/v1/analytics/heatmap", {"bbox": "13.5,52,13.3,52.6"}, "bbox"),
            ("/v1/analytics/timeseries", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ]:
            response = await crew.get(path, params=params)
            assert response.status_code == 422, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert field in [e["field"] for e in response.json()["errors"]]
    finally:
        await crew.aclose()


async def test_the_csv_export_is_streamed_through_the_gateway(system: System) -> None:
    crew = await staff(system, "roads")
    try:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        params = {
            "area": "u33db",
            "window": "1h",
            "from": (end - timedelta(hours=2)).isoformat(),
            "to": end.isoformat(),
        }
        async with crew.stream("GET", "/v1/analytics/export.csv", params=params) as export:
            assert export.status_code == 200
            assert export.headers["content-type"].startswith("text/csv")
            assert "attachment" in export.headers["content-disposition"]
            text = "".join([chunk async for chunk in export.aiter_text()])
        header = next(csv.reader(io.StringIO(text)))
        assert header[:5] == ["window", "window_start", "window_end", "geohash5", "category"]
        assert {"reported", "resolved", "tta_p90_s", "ttr_p99_s"} <= set(header)
    finally:
        await crew.aclose()
