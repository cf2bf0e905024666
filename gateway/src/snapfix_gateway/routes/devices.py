"""``/v1/me/devices``: the signed-in user's phones for push notifications (FCM or APNs tokens).

The notify service owns the device registry; the gateway authenticates, validates and
relays (the answers are documented by notify's own models, ``snapfix_shared.schemas.notify``).
A user sees and changes only their own devices.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from snapfix_gateway.deps import PrincipalDep, RequestIdDep
from snapfix_gateway.routes.webhooks import NotifyHttpDep
from snapfix_gateway.upstream import relay, relay_get, viewer_headers
from snapfix_shared.schemas.notify import DeviceView

router = APIRouter(prefix="/v1/me/devices", tags=["me"])

DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="The app's own id for this install")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    404: {"description": "No such device of yours"},
    503: {"description": "The notify service is unavailable; retry after Retry-After"},
}


class DeviceRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"platform": "fcm", "token": "dXNlci1kZXZpY2UtdG9rZW4"}]}
    )

    platform: Literal["fcm", "apns"]
    token: str = Field(min_length=1, max_length=4096, description="The FCM registration token or APNs device token")


@router.put("/{device_id}", response_model=DeviceView, responses=_ERRORS)
async def register_device(
    device_id: DeviceId,
    body: DeviceRegistration,
    principal: PrincipalDep,
    notify: NotifyHttpDep,
    request_id: RequestIdDep,
) -> Response:
    """Register (or update) this phone's push token; the token leaves any other account it was on."""
    headers = {**viewer_headers(request_id, principal), "content-type": "application/json"}
    answer = await notify.call(
        "PUT", f"/v1/me/devices/{device_id}", headers=headers, content=body.model_dump_json().encode()
    )
    return relay(answer)


@router.get("", response_model=list[DeviceView], responses=_ERRORS)
async def list_devices(principal: PrincipalDep, notify: NotifyHttpDep, request_id: RequestIdDep) -> Response:
    return await relay_get(notify, "/v1/me/devices", request_id=request_id, principal=principal)


@router.delete("/{device_id}", status_code=204, responses=_ERRORS)
async def remove_device(
    device_id: DeviceId, principal: PrincipalDep, notify: NotifyHttpDep, request_id: RequestIdDep
) -> Response:
    """Stop pushing to this phone (for example at sign-out)."""
    headers = viewer_headers(request_id, principal)
    return relay(await notify.call("DELETE", f"/v1/me/devices/{device_id}", headers=headers))
