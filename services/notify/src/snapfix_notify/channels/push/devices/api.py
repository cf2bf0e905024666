"""``/v1/me/devices``: the signed-in user's push devices (internal: reached through the gateway).

The gateway authenticates and passes the user as ``x-snapfix-user``; a user only ever
sees and changes their own devices. A device is answered as ``snapfix_shared.schemas.notify.DeviceView``,
the model the gateway's document names too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from snapfix_notify.channels.push.devices.models import Device, Platform
from snapfix_notify.channels.push.devices.repository import DeviceRepository
from snapfix_notify.repository import StoreError
from snapfix_shared.messages.base import utcnow
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.schemas.notify import DeviceView
from snapfix_shared.viewer import UserIdDep

DEVICE_ID = r"^[A-Za-z0-9._-]{1,128}$"


class DeviceRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    token: str = Field(min_length=1, max_length=4096, description="The FCM registration token or APNs device token")


def _device_view(d: Device) -> DeviceView:
    return DeviceView(
        device_id=d.device_id, platform=d.platform, token=d.token, created_at=d.created_at, updated_at=d.updated_at
    )


UserDep = UserIdDep  # the signed-in user, from the gateway's internal token (snapfix_shared.viewer)
DeviceIdPath = Annotated[str, Path(pattern=DEVICE_ID)]
router = APIRouter(prefix="/v1/me/devices", tags=["devices"])


def _repo(request: Request) -> DeviceRepository:
    return request.app.state.push.devices  # type: ignore[no-any-return]


@router.put("/{device_id}", response_model=DeviceView)
async def register_device(
    device_id: DeviceIdPath, body: DeviceRegistration, user: UserDep, request: Request
) -> DeviceView:
    try:
        device = await _repo(request).register(user, device_id, body.platform, body.token, utcnow())
    except StoreError as exc:
        raise ServiceUnavailable("Devices cannot be registered right now.") from exc
    return _device_view(device)


@router.get("", response_model=list[DeviceView])
async def list_devices(user: UserDep, request: Request) -> list[DeviceView]:
    try:
        return [_device_view(d) for d in await _repo(request).of_user(user)]
    except StoreError as exc:
        raise ServiceUnavailable("Devices cannot be read right now.") from exc


@router.delete("/{device_id}", status_code=204)
async def remove_device(device_id: DeviceIdPath, user: UserDep, request: Request) -> Response:
    try:
        removed = await _repo(request).remove(user, device_id)
    except StoreError as exc:
        raise ServiceUnavailable("Devices cannot be changed right now.") from exc
    if not removed:
        raise Problem(404, "Not Found", f"No device {device_id}.")
    return Response(status_code=204)
