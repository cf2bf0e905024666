"""Open311 GeoReport v2 end to end: five real processes, both formats, the spec's traps."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.api import citizen, sign_in, staff
from tests.e2e.conftest import ADMIN, System

pytestmark = pytest.mark.e2e

V2 = "/open311/v2"
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "lat",
    "long",
    "media_url",
]
CONTACT = {"email": "hidden.reporter@example.org", "first_name": "Hidden", "last_name": "Reporter", "phone": "+155501"}


def xml_of(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def json_of(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def assert_error(response: httpx.Response, status: int) -> str:
    """The spec's error shape in the requested format; returns the description."""
    assert response.status_code == status, response.text
    if response.request.url.path.endswith(".xml"):
        root = xml_of(response)
        assert root.tag == "errors"
        [error] = root.findall("error")
        assert error.findtext("code") == str(status)
        return error.findtext("description") or ""
    [error] = json_of(response)
    assert set(error) == {"code", "description"}
    assert error["code"] == status
    return str(error["description"])


@pytest.fixture(scope="module")
async def admin(system: System) -> AsyncIterator[httpx.AsyncClient]:
    client = await sign_in(system, *ADMIN)
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
async def api_key(admin: httpx.AsyncClient) -> str:
    response = await admin.post("/v1/admin/api-keys", json={"name": f"CRM {uuid4().hex[:6]}"})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["api_key"])


@pytest.fixture(scope="module")
async def public(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        yield client


async def read_back(public: httpx.AsyncClient, path: str, timeout_s: float = 30) -> httpx.Response:
    """GET until the report is readable (it is applied moments after the POST)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await public.get(path)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def post_request(public: httpx.AsyncClient, api_key: str, fmt: str = "json", **fields: str) -> httpx.Response:
    form = {"api_key": api_key, "service_code": "pothole", "lat": "52.5201", "long": "13.4049", **fields}
    return await public.post(f"{V2}/requests.{fmt}", data=form)


async def test_discovery_in_both_formats(public: httpx.AsyncClient, system: System) -> None:
    body = json_of(await public.get(f"{V2}/discovery.json"))
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == f"{system.gateway}/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml_of(await public.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"


async def test_services_and_their_definitions(public: httpx.AsyncClient) -> None:
    services = json_of(await public.get(f"{V2}/services.json"))
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code["pothole"]) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group"
    }  # fmt: skip
    assert all(isinstance(s["service_code"], str) and s["type"] == "realtime" for s in services)
    assert by_code["pothole"]["metadata"] is True
    root = xml_of(await public.get(f"{V2}/services.xml"))
    assert {s.findtext("service_code") for s in root.findall("service")} == set(by_code)

    definition = json_of(await public.get(f"{V2}/services/pothole.json"))
    assert definition["service_code"] == "pothole"
    lane = next(a for a in definition["attributes"] if a["code"] == "lane")
    assert (lane["datatype"], lane["variable"], lane["required"]) == ("singlevaluelist", True, False)
    assert {"key": "bike_lane", "name": "Bike lane"} in lane["values"]
    assert sorted(a["order"] for a in definition["attributes"]) == list(range(1, len(definition["attributes"]) + 1))
    root = xml_of(await public.get(f"{V2}/services/pothole.xml"))
    assert root.tag == "service_definition"
    assert "lane" in [a.findtext("code") for a in root.findall("attributes/attribute")]

    assert "nope" in assert_error(await public.get(f"{V2}/services/nope.json"), 404)
    assert_error(await public.get(f"{V2}/services/nope.xml"), 404)


async def test_a_request_created_with_an_issued_key_reads_back_in_both_formats(
    public: httpx.AsyncClient, api_key: str, system: System
) -> None:
    created = await post_request(
        public,
        api_key,
        "xml",
        description="Deep hole by the bus stop",
        address_string="Unter den Linden 1, Berlin",
        **{"attribute[lane]": "bike_lane", "attribute[depth_cm]": "12", "media_url": "", "device_id": ""},
        **CONTACT,
    )
    assert created.status_code == 201, created.text
    root = xml_of(created)
    assert root.tag == "service_requests"
    [item] = root.findall("request")
    request_id = item.findtext("service_request_id")
    assert request_id

    one = await read_back(public, f"{V2}/requests/{request_id}.xml")
    assert one.status_code == 200, one.text
    root = xml_of(one)
    [request] = root.findall("request")  # an array of one, not a bare object
    assert [child.tag for child in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == request_id
    assert (request.findtext("status"), request.findtext("status_notes")) == ("open", "open")
    assert request.findtext("service_code") == "pothole"
    assert request.findtext("agency_responsible") == "roads"
    assert request.findtext("address") == "Unter den Linden 1, Berlin"
    assert float(request.findtext("lat") or 0) == pytest.approx(52.5201)
    requested = datetime.fromisoformat(request.findtext("requested_datetime") or "")
    assert requested.tzinfo is not None
    assert abs(datetime.now(UTC) - requested) < timedelta(minutes=2)

    as_json = json_of(await public.get(f"{V2}/requests/{request_id}.json"))
    assert isinstance(as_json, list)
    assert len(as_json) == 1
    assert list(as_json[0]) == REQUEST_FIELDS
    assert as_json[0]["service_request_id"] == request_id
    assert isinstance(as_json[0]["lat"], float)

    # Open311 is public: nothing about the reporter, anywhere.
    listing = await public.get(f"{V2}/requests.json", params={"service_request_id": request_id, "extensions": "true"})
    for secret in (*CONTACT.values(), "apikey:"):
        assert secret not in one.text
        assert secret not in listing.text
    # ... while the city's staff see how to reach them.
    crew = await staff(system, "roads")
    try:
        detail = (await crew.get(f"/v1/issues/{request_id}")).json()
        assert detail["contact"] == CONTACT
        assert detail["channel"] == "open311"
        assert detail["attributes"] == {"lane": "bike_lane", "depth_cm": 12}
    finally:
        await crew.aclose()
    anyone = (await public.get(f"/v1/issues/{request_id}")).json()
    assert anyone["contact"] is None


async def test_the_key_is_required_and_a_revoked_key_is_refused(
    public: httpx.AsyncClient, admin: httpx.AsyncClient, api_key: str
) -> None:
    assert "api_key" in assert_error(await post_request(public, ""), 403)
    assert_error(await post_request(public, "sfk_not-a-key", "xml"), 403)
    # The key may come in the query string instead of the body.
    form = {"service_code": "pothole", "lat": "52.52", "long": "13.40"}
    in_query = await public.post(f"{V2}/requests.json", params={"api_key": api_key}, data=form)
    assert in_query.status_code == 201, in_query.text

    issued = (await admin.post("/v1/admin/api-keys", json={"name": "short-lived"})).json()
    assert (await post_request(public, issued["api_key"])).status_code == 201
    assert (await admin.delete(f"/v1/admin/api-keys/{issued['id']}")).status_code == 204
    assert_error(await post_request(public, issued["api_key"]), 403)
    assert (await admin.delete("/v1/admin/api-keys/no-such-key")).status_code == 404
    listed = (await admin.get("/v1/admin/api-keys")).json()
    assert any(k["id"] == issued["id"] and k["revoked_at"] for k in listed)
    assert "api_key" not in str(listed)


async def test_only_admins_issue_keys(system: System) -> None:
    someone = await citizen(system)
    try:
        assert (await someone.post("/v1/admin/api-keys", json={"name": "mine"})).status_code == 403
    finally:
        await someone.aclose()


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "no_such_service"}, 404, "no_such_service"),
        ({"long": ""}, 400, "together"),
        ({"lat": "", "long": "", "address_string": "Main St 1"}, 400, "lat and long"),
        ({"lat": "", "long": ""}, 400, "location"),
        ({"lat": "95"}, 400, "WGS84"),
        ({"attribute[depth_cm]": "deep"}, 400, "number"),
        ({"attribute[lane]": "sidewalk"}, 400, "lane"),  # refused by the owner's check, as for the mobile API
        ({"description": "x" * 4001}, 400, "4000"),
        ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
    ],
)
async def test_bad_submissions_are_refused_per_spec(
    public: httpx.AsyncClient, api_key: str, fields: dict[str, str], status: int, words: str
) -> None:
    for fmt in ("json", "xml"):
        description = assert_error(await post_request(public, api_key, fmt, **fields), status)
        assert words in description


async def test_queries_filter_by_ids_codes_status_and_window(public: httpx.AsyncClient, api_key: str) -> None:
    ids = []
    for code in ("pothole", "streetlight"):
        response = await post_request(public, api_key, service_code=code)
        assert response.status_code == 201, response.text
        ids.append(response.json()[0]["service_request_id"])
    for request_id in ids:
        assert (await read_back(public, f"{V2}/requests/{request_id}.json")).status_code == 200

    both = json_of(await public.get(f"{V2}/requests.json", params={"service_request_id": ",".join(ids)}))
    assert [r["service_request_id"] for r in both] == ids
    # service_request_id overrides every other filter.
    overriding = {"service_request_id": ids[0], "service_code": "streetlight", "status": "closed"}
    assert [r["service_request_id"] for r in json_of(await public.get(f"{V2}/requests.json", params=overriding))] == [
        ids[0]
    ]

    # The default window (the last 90 days) holds the new reports; empty parameters are absent.
    empty = {"service_code": "", "status": "", "start_date": "", "end_date": "", "page": "", "page_size": ""}
    recent = json_of(await public.get(f"{V2}/requests.json", params=empty))
    assert set(ids) <= {r["service_request_id"] for r in recent}
    assert len(recent) <= 1000
    lights = json_of(await public.get(f"{V2}/requests.json", params={"service_code": "streetlight", "status": "open"}))
    assert ids[1] in {r["service_request_id"] for r in lights}
    assert ids[0] not in {r["service_request_id"] for r in lights}
    assert all(r["service_code"] == "streetlight" and r["status"] == "open" for r in lights)
    closed = json_of(
        await public.get(f"{V2}/requests.json", params={"status": "closed", "service_code": "streetlight"})
    )
    assert ids[1] not in {r["service_request_id"] for r in closed}
    page = json_of(await public.get(f"{V2}/requests.json", params={"page_size": "1", "page": "1"}))
    assert len(page) == 1

    root = xml_of(await public.get(f"{V2}/requests.xml", params={"service_code": "pothole"}))
    assert ids[0] in {r.findtext("service_request_id") for r in root.findall("request")}

    now = datetime.now(UTC)
    old = {"start_date": "2001-01-01T00:00:00Z", "end_date": "2001-02-01T00:00:00Z"}
    assert json_of(await public.get(f"{V2}/requests.json", params=old)) == []
    window = {"start_date": (now - timedelta(hours=1)).isoformat(), "end_date": (now + timedelta(hours=1)).isoformat()}
    assert set(ids) <= {
        r["service_request_id"] for r in json_of(await public.get(f"{V2}/requests.json", params=window))
    }
    too_long = {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-05-01T00:00:00Z"}
    assert "90 days" in assert_error(await public.get(f"{V2}/requests.json", params=too_long), 400)
    naive = {"start_date": "2025-01-01T00:00:00"}
    assert "timezone" in assert_error(await public.get(f"{V2}/requests.xml", params=naive), 400)
    assert_error(await public.get(f"{V2}/requests.json", params={"status": "pending"}), 400)


async def test_unknown_requests_and_tokens_are_404(public: httpx.AsyncClient, api_key: str) -> None:
    assert_error(await public.get(f"{V2}/requests/0190c0de-0000-7000-8000-000000000000.json"), 404)
    assert_error(await public.get(f"{V2}/requests/not-an-id.xml"), 404)
    assert_error(await public.get(f"{V2}/tokens/not-a-token.json"), 404)
    assert (await public.get(f"{V2}/services.html")).status_code == 404

    created = (await post_request(public, api_key)).json()[0]["service_request_id"]
    await read_back(public, f"{V2}/requests/{created}.json")
    token = json_of(await public.get(f"{V2}/tokens/{created}.json"))
    assert token == [{"service_request_id": created, "token": created}]


async def test_status_changes_show_as_closed_with_notes_and_updates(
    public: httpx.AsyncClient, api_key: str, system: System
) -> None:
    request_id = (await post_request(public, api_key)).json()[0]["service_request_id"]
    await read_back(public, f"{V2}/requests/{request_id}.json")
    crew = await staff(system, "roads")
    try:
        body = {"to": "resolved", "note": "Filled"}
        assert (await crew.post(f"/v1/issues/{request_id}/transitions", json=body)).status_code == 202
    finally:
        await crew.aclose()
    deadline = time.monotonic() + 30
    while True:
        [request] = json_of(await public.get(f"{V2}/requests/{request_id}.json", params={"extensions": "true"}))
        if request["status"] == "closed" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert (request["status"], request["status_notes"]) == ("closed", "resolved: Filled")
    assert [(n["description"], n["status"]) for n in request["notes"]] == [("resolved: Filled", "closed")]
    assert request["updated_datetime"] >= request["requested_datetime"]

    now = datetime.now(UTC)
    window = {
        "start_date": (now - timedelta(minutes=5)).isoformat(),
        "end_date": (now + timedelta(minutes=1)).isoformat(),
    }
    updates = json_of(await public.get(f"{V2}/servicerequestupdates.json", params=window))
    [ours] = [u for u in updates if u["service_request_id"] == request_id]
    assert set(ours) == {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}
    assert (ours["status"], ours["description"]) == ("closed", "resolved: Filled")
    assert isinstance(ours["update_id"], str)
    root = xml_of(await public.get(f"{V2}/servicerequestupdates.xml", params=window))
    assert request_id in {u.findtext("service_request_id") for u in root.findall("request_update")}
    too_long = {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-06-01T00:00:00Z"}
    assert_error(await public.get(f"{V2}/servicerequestupdates.xml", params=too_long), 400)
