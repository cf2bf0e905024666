"""Open311 GeoReport v2, the pure part: formats, errors, parameters and the SnapFix → Open311 mapping.

No I/O here (the routes fetch and publish). Rules from the specification that shape it:
XML is mandatory and starts with ``<?xml version="1.0" encoding="utf-8"?>``; JSON is the
same data with the root and item wrappers dropped; ids and codes are strings; an empty
optional parameter is an absent one; errors are a list of ``{code, description}``; only
two statuses exist (``open``/``closed``), so the SnapFix status goes into ``status_notes``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from fastapi import Response

from snapfix_shared.messages.text import xml_safe

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
MAX_WINDOW = timedelta(days=90)
MAX_ROWS = 1000
MAX_DESCRIPTION = 4000

# SnapFix statuses that are "closed" in Open311; every other one is "open".
CLOSED_STATUSES = frozenset({"resolved", "closed", "duplicate", "rejected", "withdrawn"})
OPEN_STATUSES = frozenset({"open", "acknowledged", "in_progress", "reopened"})

# The item element of each XML list, by the list's name (JSON keeps the list only).
_ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "notes": "note",
    "service_request_updates": "request_update",
    "errors": "error",
}


class Open311Error(Exception):
    """An answer in the spec's error shape: HTTP 400, 403 or 404, an array of ``{code, description}``."""

    def __init__(self, status: int, description: str, *, code: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.code = status, description, code or status
        self.headers: dict[str, str] = {}


def bad_request(description: str) -> Open311Error:
    return Open311Error(400, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


# -- rendering --------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # Records stored before requests refused control characters may still hold some: one
    # would make the whole document ill-formed for every integrator.
    return "" if value is None else xml_safe(str(value))


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, (list, tuple)):
        item_tag = _ITEM_TAGS.get(tag, "item")
        for child in value:
            element.append(_element(item_tag, child))
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, body: Any) -> bytes:
    """``body`` (a list or a mapping) under ``root``, with the declaration the spec requires."""
    return XML_DECLARATION + ET.tostring(_element(root, body), encoding="unicode").encode("utf-8")


def render(
    fmt: Format, root: str, body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, body), status, headers=dict(headers or {}), media_type="text/xml; charset=utf-8")
    return Response(
        orjson.dumps(body), status, headers=dict(headers or {}), media_type="application/json; charset=utf-8"
    )


def error_response(fmt: Format, error: Open311Error) -> Response:
    body = [{"code": error.code, "description": error.description}]
    return render(fmt, "errors", body, status=error.status, headers=error.headers)


def parse_format(raw: str) -> Format:
    if raw not in FORMATS:
        raise not_found(f"Unknown format {raw!r}: use .xml or .json.")
    return raw


# -- parameters -------------------------------------------------------------------------


def optional(params: Mapping[str, str], name: str) -> str | None:
    """An optional parameter: empty (or blank) is the same as absent."""
    value = params.get(name)
    return value.strip() or None if value is not None else None


def csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def parse_datetime(value: str, name: str) -> datetime:
    """A W3C datetime; the timezone (``Z`` or ``±hh:mm``) is mandatory."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise bad_request(f"{name} is not a W3C datetime (e.g. 2024-05-01T00:00:00Z).") from exc
    if parsed.tzinfo is None:
        raise bad_request(f"{name} needs a timezone (e.g. 2024-05-01T00:00:00Z).")
    return parsed.astimezone(UTC)


def window(start_raw: str | None, end_raw: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of at most 90 days; the most recent 90 days by default."""
    start = parse_datetime(start_raw, "start_date") if start_raw else None
    end = parse_datetime(end_raw, "end_date") if end_raw else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - MAX_WINDOW
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise bad_request("end_date is before start_date.")
    if end - start > MAX_WINDOW:
        raise bad_request("The date range may not exceed 90 days.")
    # end_date is inclusive in Open311; the owner's window is half-open.
    return start, end + timedelta(milliseconds=1)


def positive_int(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = optional(params, name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_request(f"{name} must be a whole number from 1 to {maximum}.")
    return int(raw)


def statuses_for(raw: str | None) -> list[str]:
    """SnapFix statuses for an Open311 ``status`` filter (``open``, ``closed`` or both); [] is all."""
    wanted = set(csv(raw))
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise bad_request(f"Unknown status {', '.join(sorted(unknown))}: use open and/or closed.")
    if wanted in (set(), {"open", "closed"}):
        return []
    return sorted(OPEN_STATUSES if wanted == {"open"} else CLOSED_STATUSES)


# -- the catalogue → services -----------------------------------------------------------


def service(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "service_code": str(spec["code"]),
        "service_name": spec["name"],
        "description": spec.get("description", ""),
        "metadata": bool(spec.get("attributes")),
        "type": "realtime",
        "keywords": ",".join(spec.get("keywords", ())),
        "group": spec.get("group", ""),
    }


_BOOLEAN_VALUES = [{"key": "true", "name": "Yes"}, {"key": "false", "name": "No"}]


def service_definition(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of a category; a SnapFix ``boolean`` is offered as a yes/no list."""
    attributes = []
    for order, attribute in enumerate(spec.get("attributes", ()), start=1):
        datatype = attribute["datatype"]
        values = attribute.get("values", ())
        if datatype == "boolean":
            datatype, values = "singlevaluelist", _BOOLEAN_VALUES
        attributes.append(
            {
                "variable": True,
                "code": str(attribute["code"]),
                "datatype": datatype,
                "required": bool(attribute.get("required", False)),
                "datatype_description": "",
                "order": order,
                "description": attribute.get("description") or attribute["code"],
                "values": [{"key": str(v["key"]), "name": v["name"]} for v in values],
            }
        )
    return {"service_code": str(spec["code"]), "attributes": attributes}


def attribute_values(spec: Mapping[str, Any], form: Sequence[tuple[str, str]]) -> dict[str, str | int | float | bool]:
    """``attribute[code]=value`` fields, typed as the category's attributes want them.

    Empty values are absent. Unknown codes are kept as strings for the owner's check,
    which names them; a value of the wrong type is a 400 here.
    """
    known = {a["code"]: a for a in spec.get("attributes", ())}
    values: dict[str, str | int | float | bool] = {}
    for name, raw in form:
        if not name.startswith("attribute[") or not raw.strip():
            continue
        code = name[len("attribute[") :]
        if code.endswith("][]"):  # a multivaluelist's item: SnapFix has none, the owner refuses the code
            code = code[:-3]
        elif code.endswith("]"):
            code = code[:-1]
        else:
            continue
        value = raw.strip()
        datatype = known.get(code, {}).get("datatype", "string")
        if datatype == "number":
            try:
                number = float(value)
            except ValueError as exc:
                raise bad_request(f"attribute[{code}] must be a number.") from exc
            values[code] = int(number) if number.is_integer() and "." not in value else number
        elif datatype == "boolean":
            if value.lower() not in {"true", "false"}:
                raise bad_request(f"attribute[{code}] must be true or false.")
            values[code] = value.lower() == "true"
        else:
            values[code] = value
    return values


# -- reports → service requests ---------------------------------------------------------


def w3c(value: str | datetime | None) -> str | None:
    """A W3C datetime in UTC with ``Z`` (whole seconds)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def open_or_closed(status: str) -> Literal["open", "closed"]:
    return "closed" if status in CLOSED_STATUSES else "open"


def _status_text(status: str, note: str | None = None, reason: str | None = None) -> str:
    detail = "; ".join(part for part in (note, reason) if part)
    return f"{status}: {detail}" if detail else status


def media_url(record: Mapping[str, Any], public_base_url: str) -> str | None:
    """The processed photo of the report (its first), else the URL the submitter gave."""
    media_ids = record.get("media_ids") or ()
    if media_ids:
        return f"{public_base_url.rstrip('/')}/v1/media/{media_ids[0]}/large.jpg"
    return record.get("media_url") or None


def service_request(
    record: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    *,
    public_base_url: str,
    extensions: bool = False,
) -> dict[str, Any]:
    """One report (the issues service's public record) as an Open311 request. No reporter, ever."""
    history = record.get("history") or ()
    last = history[-1] if history else None
    status_notes = _status_text(record["status"], last["note"], last["reason"]) if last else record["status"]
    spec = services.get(record["category"], {})
    request: dict[str, Any] = {
        "service_request_id": str(record["id"]),
        "status": open_or_closed(record["status"]),
        "status_notes": status_notes,
        "service_name": spec.get("name", record["category"]),
        "service_code": str(record["category"]),
        "description": record.get("description") or "",
        "agency_responsible": record.get("department"),
        "requested_datetime": w3c(record["created_at"]),
        "updated_datetime": w3c(record.get("updated_at") or record["created_at"]),
        "expected_datetime": w3c(record.get("due_at")),
        "address": record.get("address"),
        "lat": record["lat"],
        "long": record["lon"],
        "media_url": media_url(record, public_base_url),
    }
    if extensions:
        request["notes"] = [
            {
                "datetime": w3c(h["at"]),
                "description": _status_text(h["to"], h["note"], h["reason"]),
                "type": "status_change",
                "status": open_or_closed(h["to"]),
            }
            for h in history
        ]
    return request


def request_update(change: Mapping[str, Any]) -> dict[str, Any]:
    """One status change as a mySociety ``request_update``."""
    return {
        "update_id": str(change["id"]),
        "service_request_id": str(change["issue_id"]),
        "status": open_or_closed(change["to"]),
        "updated_datetime": w3c(change["at"]),
        "description": _status_text(change["to"], change["note"], change["reason"]),
        "media_url": None,
    }


@dataclass(frozen=True)
class Discovery:
    public_base_url: str
    contact: str
    key_service: str
    changeset: str

    def body(self) -> dict[str, Any]:
        return {
            "changeset": self.changeset,
            "contact": self.contact,
            "key_service": self.key_service,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": f"{self.public_base_url.rstrip('/')}/open311/v2",
                    "changeset": self.changeset,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
