"""Open311 GeoReport v2's pure part: XML/JSON shapes, errors, parameters, the SnapFix → Open311 mapping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from snapfix_gateway.open311 import georeport as g
from snapfix_gateway.open311.routes import _from_problem
from snapfix_shared.problems import Problem, ServiceUnavailable

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POTHOLE: dict[str, Any] = {
    "code": "pothole",
    "name": "Pothole",
    "group": "Streets",
    "description": "Holes in the road",
    "keywords": ["road", "hole"],
    "department": "roads",
    "sla_hours": 72,
    "attributes": [
        {"code": "depth_cm", "description": "Depth", "datatype": "number", "required": True, "values": []},
        {"code": "lit", "description": "", "datatype": "boolean", "required": False, "values": []},
        {
            "code": "lane",
            "description": "Where",
            "datatype": "singlevaluelist",
            "required": False,
            "values": [{"key": "bike_lane", "name": "Bike lane"}, {"key": "shoulder", "name": "Shoulder"}],
        },
    ],
}


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "0190c0de-0000-7000-8000-000000000001",
        "title": "Pothole",
        "description": "Deep",
        "category": "pothole",
        "status": "in_progress",
        "lat": 52.5,
        "lon": 13.4,
        "address": "Main St 1",
        "address_id": None,
        "department": "roads",
        "media_ids": [],
        "media_url": None,
        "created_at": "2025-05-30T10:00:00.123000+00:00",
        "updated_at": "2025-05-31T08:30:00+02:00",
        "due_at": "2025-06-02T10:00:00+00:00",
        "resolved_at": None,
        "history": [
            {"id": "u1", "issue_id": "x", "at": "2025-05-31T06:30:00+00:00", "from": "open", "to": "acknowledged",
             "note": "Seen", "reason": None, "duplicate_of": None},
            {"id": "u2", "issue_id": "x", "at": "2025-05-31T06:30:00+00:00", "from": "acknowledged",
             "to": "in_progress", "note": "Crew on the way", "reason": None, "duplicate_of": None},
        ],
    }  # fmt: skip
    return {**base, **overrides}


def parse_xml(raw: bytes) -> ET.Element:
    assert raw.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(raw)


# -- formats and errors -----------------------------------------------------------------


def test_errors_are_an_array_of_code_and_description_in_both_formats() -> None:
    error = g.Open311Error(403, "api_key is missing")
    as_json = g.error_response("json", error)
    assert as_json.status_code == 403
    assert as_json.media_type == "application/json; charset=utf-8"
    assert orjson.loads(as_json.body) == [{"code": 403, "description": "api_key is missing"}]
    as_xml = g.error_response("xml", error)
    assert as_xml.media_type == "text/xml; charset=utf-8"
    root = parse_xml(as_xml.body)
    assert root.tag == "errors"
    [item] = list(root)
    assert (item.tag, item.findtext("code"), item.findtext("description")) == ("error", "403", "api_key is missing")


def test_xml_lists_get_their_item_tags_and_values_are_text() -> None:
    body = g.service_definition(POTHOLE)
    root = parse_xml(g.to_xml("service_definition", body))
    assert root.findtext("service_code") == "pothole"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["depth_cm", "lit", "lane"]
    assert [a.findtext("order") for a in attributes] == ["1", "2", "3"]
    assert attributes[0].findtext("required") == "true"
    assert attributes[0].findtext("variable") == "true"
    assert [v.findtext("key") for v in attributes[2].findall("values/value")] == ["bike_lane", "shoulder"]


def test_unknown_format_is_a_404() -> None:
    with pytest.raises(g.Open311Error) as refused:
        g.parse_format("html")
    assert refused.value.status == 404


def test_non_ascii_survives_the_xml_round_trip() -> None:
    root = parse_xml(g.to_xml("services", [{"service_name": "Straßenschäden <&>"}]))
    assert root.findtext("service/service_name") == "Straßenschäden <&>"


# -- services ---------------------------------------------------------------------------


def test_a_category_is_a_realtime_service_with_metadata_when_it_has_attributes() -> None:
    assert g.service(POTHOLE) == {
        "service_code": "pothole",
        "service_name": "Pothole",
        "description": "Holes in the road",
        "metadata": True,
        "type": "realtime",
        "keywords": "road,hole",
        "group": "Streets",
    }
    assert g.service({**POTHOLE, "attributes": []})["metadata"] is False


def test_a_boolean_attribute_is_offered_as_a_yes_no_list() -> None:
    lit = g.service_definition(POTHOLE)["attributes"][1]
    assert lit["datatype"] == "singlevaluelist"
    assert [v["key"] for v in lit["values"]] == ["true", "false"]
    assert lit["description"] == "lit"  # never empty


def test_attribute_fields_are_typed_as_the_category_says() -> None:
    form = [
        ("attribute[depth_cm]", "12"),
        ("attribute[lit]", "False"),
        ("attribute[lane]", "bike_lane"),
        ("attribute[other]", ""),  # empty: absent
        ("description", "x"),
    ]
    assert g.attribute_values(POTHOLE, form) == {"depth_cm": 12, "lit": False, "lane": "bike_lane"}
    assert g.attribute_values(POTHOLE, [("attribute[depth_cm]", "2.5")]) == {"depth_cm": 2.5}
    with pytest.raises(g.Open311Error, match="number"):
        g.attribute_values(POTHOLE, [("attribute[depth_cm]", "deep")])


# -- parameters -------------------------------------------------------------------------


def test_empty_optional_parameters_are_absent() -> None:
    assert g.optional({"a": "", "b": "  ", "c": "x"}, "a") is None
    assert g.optional({"a": "", "b": "  ", "c": "x"}, "b") is None
    assert g.optional({"a": "", "b": "  ", "c": "x"}, "c") == "x"
    assert g.optional({}, "a") is None
    assert g.statuses_for("") == []
    assert g.window("", None, now=NOW) == g.window(None, None, now=NOW)


def test_the_default_window_is_the_last_90_days() -> None:
    start, end = g.window(None, None, now=NOW)
    assert start == NOW - timedelta(days=90)
    assert end - NOW <= timedelta(milliseconds=1)


def test_a_window_with_one_end_extends_90_days_from_it() -> None:
    start, end = g.window("2025-01-01T00:00:00Z", None, now=NOW)
    assert start == datetime(2025, 1, 1, tzinfo=UTC)
    assert end > start + timedelta(days=90) - timedelta(seconds=1)
    start, _ = g.window(None, "2025-04-01T00:00:00+02:00", now=NOW)
    assert start == datetime(2025, 3, 31, 22, tzinfo=UTC) - timedelta(days=90)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-01-01T00:00:00Z", "2025-04-02T00:00:00Z", "90 days"),
        ("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z", "before"),
        ("2025-01-01T00:00:00", None, "timezone"),
        ("yesterday", None, "W3C"),
    ],
)
def test_bad_windows_are_400(start: str, end: str | None, message: str) -> None:
    with pytest.raises(g.Open311Error, match=message) as refused:
        g.window(start, end, now=NOW)
    assert refused.value.status == 400


def test_exactly_90_days_is_allowed() -> None:
    start, end = g.window("2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z", now=NOW)
    assert end - start == timedelta(days=90, milliseconds=1)


def test_status_filters_map_to_snapfix_statuses() -> None:
    assert set(g.statuses_for("open")) == {"open", "acknowledged", "in_progress", "reopened"}
    assert set(g.statuses_for("closed")) == {"resolved", "closed", "duplicate", "rejected", "withdrawn"}
    assert g.statuses_for("open,closed") == []
    with pytest.raises(g.Open311Error):
        g.statuses_for("pending")


def test_paging_parameters_are_bounded() -> None:
    assert g.positive_int({"page_size": ""}, "page_size", 1000, 1000) == 1000
    assert g.positive_int({"page_size": "50"}, "page_size", 1000, 1000) == 50
    for bad in ("0", "1001", "-1", "x"):
        with pytest.raises(g.Open311Error):
            g.positive_int({"page_size": bad}, "page_size", 1000, 1000)


# -- requests ---------------------------------------------------------------------------


def test_a_report_maps_to_exactly_the_open311_request_fields() -> None:
    request = g.service_request(record(), {"pothole": POTHOLE}, public_base_url="https://city.example/")
    assert request == {
        "service_request_id": "0190c0de-0000-7000-8000-000000000001",
        "status": "open",
        "status_notes": "in_progress: Crew on the way",
        "service_name": "Pothole",
        "service_code": "pothole",
        "description": "Deep",
        "agency_responsible": "roads",
        "requested_datetime": "2025-05-30T10:00:00Z",
        "updated_datetime": "2025-05-31T06:30:00Z",
        "expected_datetime": "2025-06-02T10:00:00Z",
        "address": "Main St 1",
        "lat": 52.5,
        "long": 13.4,
        "media_url": None,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", "open"),
        ("acknowledged", "open"),
        ("in_progress", "open"),
        ("reopened", "open"),
        ("resolved", "closed"),
        ("closed", "closed"),
        ("duplicate", "closed"),
        ("rejected", "closed"),
        ("withdrawn", "closed"),
    ],
)
def test_statuses_map_to_open_or_closed_with_the_detail_in_the_notes(status: str, expected: str) -> None:
    request = g.service_request(record(status=status, history=[]), {}, public_base_url="https://x")
    assert (request["status"], request["status_notes"]) == (expected, status)


def test_the_first_photo_is_the_media_url_else_the_submitted_url() -> None:
    media = "0190c0de-0000-7000-8000-0000000000aa"
    with_photo = g.service_request(
        record(media_ids=[media, "other"], media_url="https://elsewhere/x.jpg"), {}, public_base_url="https://c.example"
    )
    assert with_photo["media_url"] == f"https://c.example/v1/media/{media}/large.jpg"
    submitted = g.service_request(record(media_url="https://elsewhere/x.jpg"), {}, public_base_url="https://c.example")
    assert submitted["media_url"] == "https://elsewhere/x.jpg"


def test_a_report_never_changed_was_updated_when_requested() -> None:
    request = g.service_request(record(updated_at=None, history=[]), {}, public_base_url="https://x")
    assert request["updated_datetime"] == request["requested_datetime"] == "2025-05-30T10:00:00Z"
    assert request["service_name"] == "pothole"  # a category gone from the catalogue keeps its code


def test_extensions_add_the_update_history() -> None:
    request = g.service_request(record(), {}, public_base_url="https://x", extensions=True)
    assert request["notes"] == [
        {"datetime": "2025-05-31T06:30:00Z", "description": "acknowledged: Seen", "type": "status_change",
         "status": "open"},
        {"datetime": "2025-05-31T06:30:00Z", "description": "in_progress: Crew on the way",
         "type": "status_change", "status": "open"},
    ]  # fmt: skip
    root = parse_xml(g.to_xml("service_requests", [request]))
    assert [n.findtext("description") for n in root.findall("request/notes/note")] == [
        "acknowledged: Seen",
        "in_progress: Crew on the way",
    ]


def test_a_status_change_is_a_request_update() -> None:
    change = {"id": "c1", "issue_id": "i1", "at": "2025-05-31T06:30:00.5+00:00", "from": "in_progress",
              "to": "rejected", "note": "", "reason": "Private land", "duplicate_of": None}  # fmt: skip
    assert g.request_update(change) == {
        "update_id": "c1",
        "service_request_id": "i1",
        "status": "closed",
        "updated_datetime": "2025-05-31T06:30:00Z",
        "description": "rejected: Private land",
        "media_url": None,
    }


def test_discovery_names_the_spec_and_both_formats() -> None:
    body = g.Discovery("https://city.example", "Call 311", "Ask us", "2025-01-01T00:00:00Z").body()
    root = parse_xml(g.to_xml("discovery", body))
    assert root.findtext("key_service") == "Ask us"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint is not None
    assert endpoint.findtext("url") == "https://city.example/open311/v2"
    assert endpoint.findtext("specification") == g.SPECIFICATION
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_snapfix_problems_become_spec_errors() -> None:
    assert (_from_problem(Problem(404, "Not Found", "gone")).status, _from_problem(Problem(403, "F")).status) == (
        404,
        403,
    )
    invalid = _from_problem(Problem(422, "Unprocessable Content", "lane must be one of ..."))
    assert (invalid.status, invalid.code, invalid.description) == (400, 400, "lane must be one of ...")
    down = _from_problem(ServiceUnavailable("Kafka is down", retry_after_s=5))
    assert (down.status, down.code, down.headers) == (400, 503, {"Retry-After": "5"})
