"""The mobile push adapter, in memory: FCM HTTP v1 and APNs payloads, and PushChannel's device fan-out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.channel import PushChannel
from snapfix_notify.channels.push.devices import Device
from snapfix_notify.channels.push.messages import DeviceGone, PushBuilder, PushMessage, apns_message, fcm_message
from snapfix_shared.messages.base import utcnow

pytestmark = pytest.mark.unit


def make_notice(**overrides: Any) -> Notice:
    fields: dict[str, Any] = {
        "key": "evt-1/user-1/push",
        "recipient_id": "user-1",
        "moment": "issue.status_changed",
        "title": "Your report was acknowledged",
        "text": "A crew is scheduled for Tuesday.",
        "link": "https://snapfix.example/issues/42",
        "data": {"issue_id": "42"},
    }
    fields.update(overrides)
    return Notice(**fields)


def make_device(device_id: str, platform: str, **overrides: Any) -> Device:
    now = utcnow()
    fields: dict[str, Any] = {
        "id": f"user-1:{device_id}",
        "user_id": "user-1",
        "device_id": device_id,
        "platform": platform,
        "token": f"token-{device_id}",
        "created_at": now,
        "updated_at": now,
    }
    fields.update(overrides)
    return Device.model_construct(**fields)  # no Beanie init in memory


def test_the_fcm_message_has_the_http_v1_shape() -> None:
    message = fcm_message(make_notice(), "fcm-token")
    body = message.body["message"]
    assert body["token"] == "fcm-token"
    assert body["notification"] == {"title": "Your report was acknowledged", "body": "A crew is scheduled for Tuesday."}
    assert body["data"]["issue_id"] == "42"
    assert body["data"]["key"] == "evt-1/user-1/push"
    assert body["data"]["link"] == "https://snapfix.example/issues/42"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in body["data"].items())
    assert body["android"]["collapse_key"] == "42"
    assert body["android"]["priority"] == "HIGH"
    assert body["apns"]["headers"]["apns-collapse-id"] == "42"


def test_the_apns_message_has_its_payload_and_headers() -> None:
    message = apns_message(make_notice(), "apns-token", topic="dev.snapfix.app")
    assert message.body["aps"] == {
        "alert": {"title": "Your report was acknowledged", "body": "A crew is scheduled for Tuesday."},
        "sound": "default",
        "thread-id": "42",
    }
    assert message.body["issue_id"] == "42"
    assert message.headers["apns-push-type"] == "alert"
    assert message.headers["apns-topic"] == "dev.snapfix.app"
    assert message.headers["apns-collapse-id"] == "42"
    assert message.path == "/3/device/apns-token"
    UUID(message.headers["apns-id"])  # a UUID, as APNs requires


def test_the_apns_id_is_derived_from_the_notice_key() -> None:
    first = apns_message(make_notice(), "t", topic="x").headers["apns-id"]
    again = apns_message(make_notice(), "other-token", topic="x").headers["apns-id"]
    other = apns_message(make_notice(key="evt-2/user-1/push"), "t", topic="x").headers["apns-id"]
    assert first == again
    assert first != other


def test_long_texts_stay_within_the_providers_payload_limit() -> None:
    notice = make_notice(text="x" * 10_000)
    assert len(json.dumps(apns_message(notice, "t", topic="x").body).encode()) < 4096
    assert len(json.dumps(fcm_message(notice, "t").body).encode()) < 4096


@dataclass
class FakeDevices:
    devices: list[Device]
    removed: list[str] = field(default_factory=list)

    async def of_user(self, user_id: str) -> list[Device]:
        return [d for d in self.devices if d.user_id == user_id and d.device_id not in self.removed]

    async def remove(self, _user_id: str, device_id: str) -> bool:
        self.removed.append(device_id)
        return True


@dataclass
class FakeTransport:
    errors: dict[str, Exception] = field(default_factory=dict)
    sent: list[tuple[str, PushMessage]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, device: Device, _notice: Notice, message: PushMessage) -> None:
        if device.device_id in self.errors:
            raise self.errors[device.device_id]
        self.sent.append((device.device_id, message))


def channel(devices: FakeDevices, transport: FakeTransport) -> PushChannel:
    return PushChannel(devices, transport, PushBuilder(apns_topic="dev.snapfix.app"))  # type: ignore[arg-type]


async def test_every_device_gets_its_platforms_message() -> None:
    transport = FakeTransport()
    devices = FakeDevices([make_device("pixel", "fcm"), make_device("iphone", "apns")])
    await channel(devices, transport).deliver(make_notice())
    sent = dict(transport.sent)
    assert sent["pixel"].platform == "fcm"
    assert sent["pixel"].body["message"]["token"] == "token-pixel"
    assert sent["iphone"].platform == "apns"
    assert sent["iphone"].path == "/3/device/token-iphone"


async def test_no_device_is_a_permanent_failure() -> None:
    with pytest.raises(PermanentDeliveryError, match="no registered device"):
        await channel(FakeDevices([]), FakeTransport()).deliver(make_notice())


async def test_a_transient_failure_on_one_device_retries_the_notice() -> None:
    transport = FakeTransport(errors={"iphone": TransientDeliveryError("503")})
    devices = FakeDevices([make_device("pixel", "fcm"), make_device("iphone", "apns")])
    with pytest.raises(TransientDeliveryError):
        await channel(devices, transport).deliver(make_notice())


async def test_a_gone_device_is_forgotten_and_the_others_still_get_the_notice() -> None:
    transport = FakeTransport(errors={"old-phone": DeviceGone("unregistered")})
    devices = FakeDevices([make_device("pixel", "fcm"), make_device("old-phone", "fcm")])
    await channel(devices, transport).deliver(make_notice())
    assert devices.removed == ["old-phone"]
    assert [d for d, _ in transport.sent] == ["pixel"]


async def test_every_device_refusing_is_a_permanent_failure() -> None:
    transport = FakeTransport(errors={"pixel": PermanentDeliveryError("invalid token")})
    with pytest.raises(PermanentDeliveryError, match="invalid token"):
        await channel(FakeDevices([make_device("pixel", "fcm")]), transport).deliver(make_notice())
