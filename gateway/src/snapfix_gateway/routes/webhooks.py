"""``/v1/admin/webhooks``: integrators' webhook endpoints and their delivery log, for administrators.

The notify service owns endpoints and deliveries; the gateway checks the caller is an
administrator, validates the request and relays it; the answers are documented by notify's
own models (``snapfix_shared.schemas.notify``). Deliveries are signed per the
Standard Webhooks specification with the endpoint's secret, answered once at creation.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from snapfix_gateway.deps import AdminDep, RequestIdDep
from snapfix_gateway.upstream import Upstream, relay, relay_get, viewer_headers
from snapfix_shared.schemas.notify import CreatedEndpoint, DeliveryPage, EndpointView

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"])

EventType = Literal[
    "*", "IssueReported", "IssueStatusChanged", "IssueCommented", "IssueAssigned", "IssueVoted", "IssueEdited"
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not an administrator"},
    404: {"description": "No such endpoint"},
    422: {"description": "Invalid request (or an http:// URL where https is required)"},
    503: {"description": "The notify service is unavailable; retry after Retry-After"},
}


async def get_notify_http(request: Request) -> Upstream:
    return request.app.state.notify_http  # type: ignore[no-any-return]


NotifyHttpDep = Annotated[Upstream, Depends(get_notify_http)]


class NewEndpoint(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://integrator.example/snapfix",
                    "event_types": ["IssueReported", "IssueStatusChanged"],
                    "description": "City dashboard",
                }
            ]
        },
    )

    url: AnyHttpUrl = Field(description="Where deliveries are POSTed (https in production)")
    event_types: list[EventType] = Field(min_length=1, max_length=7, description='The types to send, or ["*"]')
    description: str = Field(default="", max_length=500)


@router.post("", status_code=201, response_model=CreatedEndpoint, responses=_ERRORS)
async def create_webhook(
    body: NewEndpoint, admin: AdminDep, notify: NotifyHttpDep, request_id: RequestIdDep
) -> Response:
    """Register an endpoint; the answer carries its signing secret, this once."""
    headers = {**viewer_headers(request_id, admin), "content-type": "application/json"}
    payload = body.model_dump_json().encode()
    return relay(await notify.call("POST", "/v1/admin/webhooks", headers=headers, content=payload))


@router.get("", response_model=list[EndpointView], responses=_ERRORS)
async def list_webhooks(admin: AdminDep, notify: NotifyHttpDep, request_id: RequestIdDep) -> Response:
    """Every endpoint (never the secrets), with its state."""
    return await relay_get(notify, "/v1/admin/webhooks", request_id=request_id, principal=admin)


@router.get("/{endpoint_id}", response_model=EndpointView, responses=_ERRORS)
async def get_webhook(endpoint_id: UUID, admin: AdminDep, notify: NotifyHttpDep, request_id: RequestIdDep) -> Response:
    return await relay_get(notify, f"/v1/admin/webhooks/{endpoint_id}", request_id=request_id, principal=admin)


@router.delete("/{endpoint_id}", status_code=204, responses=_ERRORS)
async def delete_webhook(
    endpoint_id: UUID, admin: AdminDep, notify: NotifyHttpDep, request_id: RequestIdDep
) -> Response:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    headers = viewer_headers(request_id, admin)
    return relay(await notify.call("DELETE", f"/v1/admin/webhooks/{endpoint_id}", headers=headers))


@router.post("/{endpoint_id}/enable", response_model=EndpointView, responses=_ERRORS)
async def enable_webhook(
    endpoint_id: UUID, admin: AdminDep, notify: NotifyHttpDep, request_id: RequestIdDep
) -> Response:
    """Re-enable an endpoint that was disabled (410 Gone or sustained failure); its failure count restarts."""
    headers = viewer_headers(request_id, admin)
    return relay(await notify.call("POST", f"/v1/admin/webhooks/{endpoint_id}/enable", headers=headers))


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage, responses=_ERRORS)
async def webhook_deliveries(  # noqa: PLR0917 - FastAPI injects by parameter
    endpoint_id: UUID,
    admin: AdminDep,
    notify: NotifyHttpDep,
    request_id: RequestIdDep,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^msg_[0-9a-f]{32}_[0-9a-f]{32}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The delivery log, newest event first: every attempt with its status code, error and time."""
    params = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    return await relay_get(
        notify, f"/v1/admin/webhooks/{endpoint_id}/deliveries", request_id=request_id, principal=admin, params=params
    )
