"""Reports name photos: only the reporter's own, uploaded and not rejected; processed ones show their variants."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually
from tests.e2e.conftest import System
from tests.e2e.test_media import photo, settled, upload

pytestmark = pytest.mark.e2e

POTHOLE = {"category": "pothole", "lat": 52.5201, "lon": 13.4049}


@pytest.fixture
async def two_citizens(system: System) -> Any:
    clients = (await citizen(system, verified=True), await citizen(system, verified=True))
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def test_a_report_shows_its_processed_photo(system: System, two_citizens: Any) -> None:
    reporter, _ = two_citizens
    media_id = await upload(reporter, photo())
    assert (await eventually(reporter, f"/v1/media/{media_id}", settled))["status"] == "processed"

    accepted = await reporter.post("/v1/issues", json=make_report_body(**POTHOLE, media_ids=[media_id]))
    assert accepted.status_code == 202, accepted.text
    issue = await eventually(
        reporter, accepted.headers["location"], lambda i: bool(i["photos"]) and i["photos"][0]["status"] == "processed"
    )
    assert issue["media_ids"] == [media_id]
    urls = issue["photos"][0]["urls"]
    assert urls["large.jpg"] == f"/v1/media/{media_id}/large.jpg"
    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        served = await anonymous.get(urls["thumb.webp"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"


async def test_a_report_cannot_name_unknown_foreign_or_rejected_photos(two_citizens: Any) -> None:
    reporter, neighbour = two_citizens
    theirs = await upload(neighbour, photo())
    rejected = await upload(reporter, b"this is not an image at all" * 10)
    assert (await eventually(reporter, f"/v1/media/{rejected}", settled))["status"] == "rejected"

    for media_ids, message in [
        ([str(uuid4())], "upload it first"),
        ([theirs], "upload it first"),  # someone else's photo looks unknown: nothing leaks
        ([rejected], "rejected"),
    ]:
        response = await reporter.post("/v1/issues", json=make_report_body(**POTHOLE, media_ids=media_ids))
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["field"] == "media_ids.0"
        assert message in error["message"]
