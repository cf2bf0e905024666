"""``/open311/v2/...`` (Open311 GeoReport v2) and ``/v1/admin/api-keys`` (integrators' keys).

Reads come from the issues service (the catalogue and its public listings) and are
mapped here; ``POST requests`` builds a ``ReportIssue`` from the gateway's copy of the
catalogue and goes through the same check and publish as the mobile API, acting as the
key's integrator principal. Every answer
under ``/open311/v2`` is in the format its suffix asks for, errors included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import orjson
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.errors import PyMongoError
from uuid_utils.compat import uuid7

from snapfix_gateway.catalogue import CatalogueCopy, CatalogueDep
from snapfix_gateway.commands import Submitter
from snapfix_gateway.deps import AdminDep, IssuesHttpDep, MediaHttpDep, RequestIdDep, RuntimeDep, SettingsDep
from snapfix_gateway.open311 import georeport as g
from snapfix_gateway.open311.keys import ApiKey, ApiKeys, integrator
from snapfix_gateway.upstream import Upstream, viewer_headers
from snapfix_shared.messages import Location, ReportIssue
from snapfix_shared.messages.issues import ReporterContact
from snapfix_shared.messages.text import NOT_XML_CHAR
from snapfix_shared.problems import Problem, ServiceUnavailable

router = APIRouter(prefix="/open311/v2", tags=["open311"])
admin_router = APIRouter(prefix="/v1/admin/api-keys", tags=["admin"])

CHANGESET = "2025-01-01T00:00:00Z"  # bump when the shape of the services changes
_CONTACT_FIELDS = ("email", "first_name", "last_name", "phone")


async def get_api_keys(request: Request) -> ApiKeys:
    return request.app.state.api_keys  # type: ignore[no-any-return]


ApiKeysDep = Annotated[ApiKeys, Depends(get_api_keys)]


async def _answer(raw_format: str, produce: Callable[[g.Format], Awaitable[Response]]) -> Response:
    """Run ``produce`` in the requested format; every failure becomes an Open311 error list."""
    fmt: g.Format = "json" if raw_format == "json" else "xml"
    try:
        return await produce(g.parse_format(raw_format))
    except g.Open311Error as error:
        return g.error_response(fmt, error)
    except Problem as problem:
        return g.error_response(fmt, _from_problem(problem))
    except PyMongoError:
        return g.error_response(fmt, _from_problem(ServiceUnavailable("The key store is not answering.")))


def _from_problem(problem: Problem) -> g.Open311Error:
    """403 and 404 stay; the spec makes everything else a 400. A transient failure (429, 5xx: the
    back end is down) keeps its status as the error code, with Retry-After, so clients can retry."""
    if problem.status in {403, 404}:
        return g.Open311Error(problem.status, problem.detail or problem.title)
    transient = problem.status == 429 or problem.status >= 500
    error = g.Open311Error(400, problem.detail or problem.title, code=problem.status if transient else 400)
    if "Retry-After" in problem.headers:
        error.headers["Retry-After"] = problem.headers["Retry-After"]
    return error


async def _owner_json(issues: Upstream, path: str, request_id: str, params: Mapping[str, Any] | None = None) -> Any:
    answer = await issues.call(
        "GET", path, headers=viewer_headers(request_id, None), params=urlencode(params) if params else None
    )
    if answer.status != 200:
        try:
            detail = str(orjson.loads(answer.body).get("detail", "refused"))
        except (orjson.JSONDecodeError, AttributeError):
            detail = "refused"
        raise g.bad_request(f"The request cannot be answered: {detail}")
    return orjson.loads(answer.body)


async def _catalogue(issues: Upstream, request_id: str) -> dict[str, dict[str, Any]]:
    body = await _owner_json(issues, "/v1/categories", request_id)
    return {spec["code"]: spec for spec in body["items"]}


async def _service(catalogue: CatalogueCopy, issues: Upstream, request_id: str, code: str) -> dict[str, Any] | None:
    """One service, from the gateway's copy of the catalogue; from its owner when the copy does not know it."""
    spec = catalogue.get(code)
    if spec is not None:
        return spec.model_dump(mode="json")
    return (await _catalogue(issues, request_id)).get(code)


async def _records(issues: Upstream, request_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    body = await _owner_json(issues, "/v1/reports", request_id, params)
    return body["items"]  # type: ignore[no-any-return]


# -- discovery and services -------------------------------------------------------------


@router.get("/discovery.{fmt}", summary="Service discovery")
async def discovery(fmt: str, settings: SettingsDep) -> Response:
    """Where this endpoint is, its formats (`xml`, `json`) and how to get an API key."""

    async def produce(f: g.Format) -> Response:
        body = g.Discovery(
            public_base_url=settings.public_base_url,
            contact=settings.open311_contact,
            key_service=settings.open311_key_service,
            changeset=CHANGESET,
        ).body()
        return g.render(f, "discovery", body)

    return await _answer(fmt, produce)


@router.get("/services.{fmt}", summary="Service list")
async def services(fmt: str, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    """The catalogue's categories as Open311 services (all `realtime`)."""

    async def produce(f: g.Format) -> Response:
        catalogue = await _catalogue(issues, request_id)
        return g.render(f, "services", [g.service(spec) for spec in catalogue.values()])

    return await _answer(fmt, produce)


@router.get("/services/{service_code}.{fmt}", summary="Service definition")
async def service_definition(service_code: str, fmt: str, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    """The attributes of one service (datatypes, required, order, values)."""

    async def produce(f: g.Format) -> Response:
        spec = (await _catalogue(issues, request_id)).get(service_code)
        if spec is None:
            raise g.not_found(f"No service {service_code}.")
        return g.render(f, "service_definition", g.service_definition(spec))

    return await _answer(fmt, produce)


# -- requests ---------------------------------------------------------------------------


@router.post("/requests.{fmt}", summary="Create a service request", status_code=status.HTTP_201_CREATED)
async def create_request(  # noqa: PLR0917 - FastAPI injects by parameter
    fmt: str,
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    issues: IssuesHttpDep,
    request_id: RequestIdDep,
    keys: ApiKeysDep,
    catalogue: CatalogueDep,
    media_http: MediaHttpDep,
) -> Response:
    """Form-encoded: `api_key` (form or query), `service_code`, `lat`+`long` (required here: SnapFix does not
    geocode `address_string`/`address_id`, which are kept with the report), `attribute[code]`, `description`,
    `media_url`, `email`, `first_name`, `last_name`, `phone`, `device_id`, `account_id`. The report goes
    through the same check and publish as `POST /v1/issues`; the answer is an array with its
    `service_request_id`, readable moments later. Contact details are seen by the city's staff only."""

    async def produce(f: g.Format) -> Response:
        form = await request.form()
        items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        fields = dict(items)
        key = await keys.verify(g.optional(fields, "api_key") or g.optional(request.query_params, "api_key"))
        if key is None:
            raise g.Open311Error(403, "api_key is missing, unknown or revoked.")
        code = g.optional(fields, "service_code")
        if code is None:
            raise g.bad_request("service_code is required.")
        spec = await _service(catalogue, issues, request_id, code)
        if spec is None:
            raise g.not_found(f"No service {code}.")
        answer = Response()
        submit = Submitter(
            runtime, settings, issues, request_id, integrator(key), answer, catalogue=catalogue, media_http=media_http
        )
        command = _report(fields, items, spec, envelope=submit.envelope())
        await submit(command)
        account_id = g.optional(fields, "account_id")
        body = [{"service_request_id": str(command.issue_id), "service_notice": None, "account_id": account_id}]
        location = f"/open311/v2/requests/{command.issue_id}.{f}"
        return g.render(f, "service_requests", body, status=201, headers={"Location": location})

    return await _answer(fmt, produce)


def _report(
    fields: Mapping[str, str], items: list[tuple[str, str]], spec: Mapping[str, Any], *, envelope: dict[str, Any]
) -> ReportIssue:
    """The ReportIssue an Open311 form asks for (400 when it cannot be one)."""
    if unfit := sorted({name for name, value in items if NOT_XML_CHAR.search(value)}):
        raise g.bad_request(
            f"{', '.join(unfit)}: control characters are not allowed (tab, line feed and carriage return are)."
        )
    lat_raw, lon_raw = g.optional(fields, "lat"), g.optional(fields, "long")
    if (lat_raw is None) != (lon_raw is None):
        raise g.bad_request("lat and long must be sent together.")
    if lat_raw is None or lon_raw is None:
        if g.optional(fields, "address_string") or g.optional(fields, "address_id"):
            raise g.bad_request("This server needs lat and long: it does not geocode address_string or address_id.")
        raise g.bad_request("A location is required: lat and long.")
    try:
        location = Location(lat=float(lat_raw), lon=float(lon_raw))
    except (ValueError, ValidationError) as exc:
        raise g.bad_request("lat and long must be WGS84 degrees (lat -90..90, long -180..180).") from exc
    description = g.optional(fields, "description") or ""
    if len(description) > g.MAX_DESCRIPTION:
        raise g.bad_request(f"description may have at most {g.MAX_DESCRIPTION} characters.")
    media_url = g.optional(fields, "media_url")
    if media_url is not None and (urlsplit(media_url).scheme not in {"http", "https"} or len(media_url) > 2000):
        raise g.bad_request("media_url must be an http(s) URL of at most 2000 characters.")
    contact = {name: value for name in _CONTACT_FIELDS if (value := g.optional(fields, name))}
    name = str(spec["name"])
    try:
        return ReportIssue(
            **envelope,
            issue_id=uuid7(),
            title=name if len(name) >= 3 else f"{name} report",
            description=description,
            category=str(spec["code"]),
            location=location,
            address=g.optional(fields, "address_string"),
            address_id=g.optional(fields, "address_id"),
            attributes=g.attribute_values(spec, items),
            channel="open311",
            media_url=media_url,
            contact=ReporterContact(**contact) if contact else None,
            device_id=g.optional(fields, "device_id"),
            account_id=g.optional(fields, "account_id"),
        )
    except ValidationError as exc:
        fields_wrong = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))
        raise g.bad_request(f"Invalid values: {fields_wrong}.") from exc


@router.get("/requests.{fmt}", summary="Query service requests")
async def get_requests(fmt: str, request: Request, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    """`service_request_id` (comma-separated; overrides the rest), `service_code` (comma-separated),
    `status` (`open`,`closed`), `start_date`/`end_date` (W3C with a timezone, at most 90 days apart; the
    last 90 days by default), `page`/`page_size` (at most 1000 a page, the default), `extensions=true`."""

    async def produce(f: g.Format) -> Response:
        q = request.query_params
        catalogue = await _catalogue(issues, request_id)
        ids = g.csv(g.optional(q, "service_request_id"))
        if ids:
            if len(ids) > 100:
                raise g.bad_request("At most 100 service_request_id values.")
            params: dict[str, Any] = {"ids": ",".join(ids)}
        else:
            start, end = g.window(g.optional(q, "start_date"), g.optional(q, "end_date"), now=datetime.now(UTC))
            page = g.positive_int(q, "page", 1, 100_000)
            page_size = g.positive_int(q, "page_size", g.MAX_ROWS, g.MAX_ROWS)
            params = {"start": start.isoformat(), "end": end.isoformat(), "offset": (page - 1) * page_size}
            params["limit"] = page_size
            if codes := g.csv(g.optional(q, "service_code")):
                params["category"] = ",".join(codes)
            if statuses := g.statuses_for(g.optional(q, "status")):
                params["status"] = ",".join(statuses)
        records = await _records(issues, request_id, params)
        return g.render(f, "service_requests", _requests(records, catalogue, request))

    return await _answer(fmt, produce)


def _requests(
    records: list[dict[str, Any]], catalogue: Mapping[str, Mapping[str, Any]], request: Request
) -> list[dict[str, Any]]:
    settings = request.app.state.settings
    extensions = g.optional(request.query_params, "extensions") == "true"
    return [
        g.service_request(r, catalogue, public_base_url=settings.public_base_url, extensions=extensions)
        for r in records
    ]


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request (an array of one)")
async def get_request(
    service_request_id: str, fmt: str, request: Request, issues: IssuesHttpDep, request_id: RequestIdDep
) -> Response:
    """An array of one request (not a bare object, as the spec says); `extensions=true` adds `notes`."""

    async def produce(f: g.Format) -> Response:
        records = await _records(issues, request_id, {"ids": service_request_id})
        if not records:
            raise g.not_found(f"No service request {service_request_id}.")
        catalogue = await _catalogue(issues, request_id)
        return g.render(f, "service_requests", _requests(records, catalogue, request))

    return await _answer(fmt, produce)


@router.get("/tokens/{token}.{fmt}", summary="Request id from a token")
async def get_token(token: str, fmt: str, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    """Every service is `realtime`, so no tokens are handed out; a request id is its own token."""

    async def produce(f: g.Format) -> Response:
        records = await _records(issues, request_id, {"ids": token})
        if not records:
            raise g.not_found(f"No token {token}.")
        return g.render(f, "service_requests", [{"service_request_id": str(records[0]["id"]), "token": token}])

    return await _answer(fmt, produce)


@router.get("/servicerequestupdates.{fmt}", summary="Status updates (mySociety extension)")
async def get_updates(fmt: str, request: Request, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    """Status changes made between `start_date` and `end_date` (the last 90 days by default), oldest first."""

    async def produce(f: g.Format) -> Response:
        q = request.query_params
        start, end = g.window(g.optional(q, "start_date"), g.optional(q, "end_date"), now=datetime.now(UTC))
        page = g.positive_int(q, "page", 1, 100_000)
        page_size = g.positive_int(q, "page_size", g.MAX_ROWS, g.MAX_ROWS)
        params = {"start": start.isoformat(), "end": end.isoformat(), "offset": (page - 1) * page_size}
        body = await _owner_json(issues, "/v1/reports/status-changes", request_id, {**params, "limit": page_size})
        return g.render(f, "service_request_updates", [g.request_update(c) for c in body["items"]])

    return await _answer(fmt, produce)


# -- integrators' keys (admins) ---------------------------------------------------------


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "City CRM"}]})

    name: str = Field(min_length=1, max_length=100, description="Who the key is for")


class ApiKeyView(BaseModel):
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(id=key.id, name=key.name, created_at=key.created_at, revoked_at=key.revoked_at)


class IssuedApiKey(ApiKeyView):
    api_key: str = Field(description="Shown this once; only its hash is stored")


_STORE_DOWN = ServiceUnavailable("The key store is not answering.")


@admin_router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedApiKey)
async def issue_api_key(body: NewApiKey, keys: ApiKeysDep, admin: AdminDep) -> Response:
    """Admins: a new Open311 API key for an integrator (`POST /open311/v2/requests.{fmt}`)."""
    try:
        key, secret = await keys.issue(body.name, admin.user_id)
    except PyMongoError as exc:
        raise _STORE_DOWN from exc
    view = IssuedApiKey(**ApiKeyView.of(key).model_dump(), api_key=secret)
    return Response(
        view.model_dump_json(), status_code=201, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


@admin_router.get("", response_model=list[ApiKeyView])
async def list_api_keys(keys: ApiKeysDep, _admin: AdminDep) -> list[ApiKeyView]:
    """Admins: every key issued (never the secrets)."""
    try:
        return [ApiKeyView.of(k) for k in await keys.all()]
    except PyMongoError as exc:
        raise _STORE_DOWN from exc


@admin_router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
async def revoke_api_key(key_id: str, keys: ApiKeysDep, admin: AdminDep) -> Response:
    """Admins: revoke a key; it is refused (403) from now on."""
    try:
        key = await keys.revoke(key_id, admin.user_id)
    except PyMongoError as exc:
        raise _STORE_DOWN from exc
    if key is None:
        raise Problem(404, "Not Found", f"No API key {key_id}.")
    return Response(status_code=204)
