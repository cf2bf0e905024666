"""``/v1/admin/webhooks``: integrators' endpoints and their delivery log (internal: reached through the gateway).

The gateway lets only administrators through; the role it passes (``x-snapfix-role``)
is checked again here. The signing secret is answered once, when the endpoint is made.
The answers are ``snapfix_shared.schemas.notify``'s, which the gateway's document names too.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from uuid_utils.compat import uuid7

from snapfix_notify.channels.webhook.models import WebhookDelivery, WebhookEndpoint
from snapfix_notify.channels.webhook.payloads import ALL, PUBLISHED_TYPES
from snapfix_notify.channels.webhook.repository import DeliveryRepository, EndpointRepository, StoreError
from snapfix_notify.channels.webhook.signing import new_secret
from snapfix_notify.channels.webhook.targets import TargetPolicy
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages.base import utcnow
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.schemas.notify import CreatedEndpoint, DeliveryPage, DeliveryView, EndpointView
from snapfix_shared.viewer import AdminUserDep


class NewEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="http(s) URL; https only where the deployment requires it")
    event_types: list[str] = Field(min_length=1, max_length=len(PUBLISHED_TYPES) + 1)
    description: str = Field(default="", max_length=500)

    @field_validator("url")
    @classmethod
    def _short(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        if len(str(url)) > 2000:
            raise ValueError("at most 2000 characters")
        return url

    @field_validator("event_types")
    @classmethod
    def _known(cls, types: list[str]) -> list[str]:
        unknown = [t for t in types if t != ALL and t not in PUBLISHED_TYPES]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; use {[ALL, *PUBLISHED_TYPES]}")
        return sorted(set(types))


def _endpoint_view(e: WebhookEndpoint) -> EndpointView:
    """What an administrator sees of an endpoint: the fields its view documents (never the secret)."""
    return EndpointView.model_validate(e.model_dump(include=set(EndpointView.model_fields)))


def _delivery_view(d: WebhookDelivery) -> DeliveryView:
    """A delivery as its log shows it: the fields its view documents; an attempt that scheduled no
    retry (delivered, given up, refused) says so with ``retry_in_s`` null."""
    view = d.model_dump(include=set(DeliveryView.model_fields) - {"attempts"})
    view["attempts"] = [{"retry_in_s": None, **attempt} for attempt in d.attempts]
    if d.status != "pending":
        view["next_attempt_at"] = None
    return DeliveryView.model_validate(view)


AdminDep = AdminUserDep  # an administrator, from the gateway's internal token (snapfix_shared.viewer)
router = APIRouter(prefix="/v1/admin/webhooks", tags=["webhooks"])


def _repos(request: Request) -> tuple[NotifySettings, EndpointRepository, DeliveryRepository]:
    part = request.app.state.webhooks
    return part.settings, part.endpoints, part.deliveries


async def _endpoint(repo: EndpointRepository, endpoint_id: UUID) -> WebhookEndpoint:
    try:
        endpoint = await repo.get(endpoint_id)
    except StoreError as exc:
        raise ServiceUnavailable("Webhook endpoints cannot be read right now.") from exc
    if endpoint is None:
        raise Problem(404, "Not Found", f"No webhook endpoint {endpoint_id}.")
    return endpoint


@router.post("", status_code=201, response_model=CreatedEndpoint)
async def create_endpoint(body: NewEndpoint, admin: AdminDep, request: Request) -> CreatedEndpoint:
    settings, endpoints, _ = _repos(request)
    if settings.webhook_https_only and body.url.scheme != "https":
        raise Problem(422, "Unprocessable Content", "Webhook URLs must use https in this deployment.")
    policy = TargetPolicy(https_only=settings.webhook_https_only, allow_private=settings.webhook_allow_private)
    if (why := policy.url_refusal(str(body.url))) is not None:  # names are judged again at every attempt
        raise Problem(422, "Unprocessable Content", f"Webhook URLs must point to a public address: {why}.")
    endpoint = WebhookEndpoint(
        id=uuid7(),
        url=str(body.url),
        event_types=body.event_types,
        description=body.description,
        secret=new_secret(),
        created_at=utcnow(),
        created_by=admin,
    )
    try:
        await endpoints.create(endpoint)
    except StoreError as exc:
        raise ServiceUnavailable("Webhook endpoints cannot be stored right now.") from exc
    return CreatedEndpoint.model_validate(endpoint.model_dump(include=set(CreatedEndpoint.model_fields)))


@router.get("", response_model=list[EndpointView])
async def list_endpoints(_admin: AdminDep, request: Request) -> list[EndpointView]:
    _, endpoints, _ = _repos(request)
    try:
        return [_endpoint_view(e) for e in await endpoints.all()]
    except StoreError as exc:
        raise ServiceUnavailable("Webhook endpoints cannot be read right now.") from exc


@router.get("/{endpoint_id}", response_model=EndpointView)
async def get_endpoint(endpoint_id: UUID, _admin: AdminDep, request: Request) -> EndpointView:
    _, endpoints, _ = _repos(request)
    return _endpoint_view(await _endpoint(endpoints, endpoint_id))


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: UUID, _admin: AdminDep, request: Request) -> Response:
    _, endpoints, log = _repos(request)
    try:
        deleted = await endpoints.delete(endpoint_id)
        # One a consumer batch records meanwhile (it read the endpoint before) is cancelled when due.
        await log.delete_of(endpoint_id)
    except StoreError as exc:
        raise ServiceUnavailable("Webhook endpoints cannot be changed right now.") from exc
    if not deleted:
        raise Problem(404, "Not Found", f"No webhook endpoint {endpoint_id}.")
    return Response(status_code=204)


@router.post("/{endpoint_id}/enable", response_model=EndpointView)
async def enable_endpoint(endpoint_id: UUID, _admin: AdminDep, request: Request) -> EndpointView:
    _, endpoints, _ = _repos(request)
    try:
        endpoint = await endpoints.enable(endpoint_id)
    except StoreError as exc:
        raise ServiceUnavailable("Webhook endpoints cannot be changed right now.") from exc
    if endpoint is None:
        raise Problem(404, "Not Found", f"No webhook endpoint {endpoint_id}.")
    return _endpoint_view(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
async def deliveries(
    endpoint_id: UUID,
    _admin: AdminDep,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^msg_[0-9a-f]{32}_[0-9a-f]{32}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryPage:
    _, endpoints, log = _repos(request)
    await _endpoint(endpoints, endpoint_id)
    try:
        page = await log.page(endpoint_id, before=cursor, limit=limit + 1)
    except StoreError as exc:
        raise ServiceUnavailable("The delivery log cannot be read right now.") from exc
    more = len(page) > limit
    page = page[:limit]
    return DeliveryPage(items=[_delivery_view(d) for d in page], next_cursor=page[-1].id if more else None)
