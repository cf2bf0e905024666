"""Both push providers through the channel, the dispatcher and the settings: each platform routed
to its provider, dead tokens forgotten, Retry-After honoured, per-platform senders, and the
settings' refusals and secrecy. The fake providers are tests/unit/conftest.py's.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from snapfix_notify.channels import Notice, TransientDeliveryError
from snapfix_notify.channels.push.apns import ApnsTransport
from snapfix_notify.channels.push.channel import PushChannel
from snapfix_notify.channels.push.fcm import FcmTransport
from snapfix_notify.channels.push.messages import PushBuilder
from snapfix_notify.channels.push.transports import (
    NoPushTransport,
    PlatformTransport,
    WebhookPushTransport,
    transport_for,
)
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch import Dispatcher, new_delivery
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.messages.base import utcnow
from tests.push_fakes import FakeApns, FakeFcm, FcmAnswer, service_account
from tests.unit.push_providers import KEY_ID, TEAM_ID, TOPIC
from tests.unit.test_notify_push import FakeDevices, make_device, make_notice

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


# -- both, through the channel and the settings -------------------------------------------------


def provider_settings(fcm: FakeFcm, apns: FakeApns, tmp_path: Path, **overrides: Any) -> NotifySettings:
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(fcm.service_account))
    key = tmp_path / "AuthKey.p8"
    key.write_text(apns.key_pem)
    fields: dict[str, Any] = {
        "push_transport": "providers",
        "fcm_service_account_file": str(account),
        "fcm_base_url": fcm.base_url,
        "apns_key_file": str(key),
        "apns_key_id": KEY_ID,
        "apns_team_id": TEAM_ID,
        "apns_topic": TOPIC,
        "apns_server": f"127.0.0.1:{apns.port}",
        "apns_ca_file": str(apns.ca_file),
        "push_timeout_s": 5,
    }
    return NotifySettings(**(fields | overrides))


async def test_the_settings_route_each_platform_to_its_provider_and_dead_tokens_are_forgotten(
    fcm: FakeFcm, apns: FakeApns, tmp_path: Path
) -> None:
    transport = transport_for(provider_settings(fcm, apns, tmp_path))
    assert isinstance(transport, PlatformTransport)
    assert isinstance(transport.by_platform["fcm"], FcmTransport)
    assert isinstance(transport.by_platform["apns"], ApnsTransport)
    fcm.answers["token-old-pixel"] = FcmAnswer(404, "UNREGISTERED")
    apns.answers["token-old-iphone"] = (410, "Unregistered")
    devices = FakeDevices(
        [make_device(name, platform) for name, platform in
         [("pixel", "fcm"), ("old-pixel", "fcm"), ("iphone", "apns"), ("old-iphone", "apns")]]
    )  # fmt: skip
    channel = PushChannel(devices, transport, PushBuilder(apns_topic=TOPIC))  # type: ignore[arg-type]
    await transport.start()
    try:
        await channel.deliver(make_notice())
    finally:
        await transport.close()
    assert sorted(devices.removed) == ["old-iphone", "old-pixel"]
    assert sorted(m["token"] for m in fcm.messages) == ["token-old-pixel", "token-pixel"]
    assert sorted(r.headers[":path"] for r in apns.received) == ["/3/device/token-iphone", "/3/device/token-old-iphone"]
    assert len({r.headers["apns-id"] for r in apns.received}) == 2  # one notice, one apns-id per device


async def test_the_channel_retries_no_sooner_than_the_longest_retry_after(
    fcm: FakeFcm, fcm_sender: FcmTransport
) -> None:
    fcm.answers["token-a"] = FcmAnswer(429, "QUOTA_EXCEEDED", {"retry-after": "30"})
    fcm.answers["token-b"] = FcmAnswer(503, "UNAVAILABLE", {"retry-after": "90"})
    devices = FakeDevices([make_device("a", "fcm"), make_device("b", "fcm"), make_device("c", "fcm")])
    channel = PushChannel(devices, fcm_sender, PushBuilder(apns_topic=TOPIC))  # type: ignore[arg-type]
    with pytest.raises(TransientDeliveryError) as caught:
        await channel.deliver(make_notice())
    assert caught.value.retry_after_s == 90.0
    assert devices.removed == []


async def test_the_dispatcher_waits_at_least_retry_after() -> None:
    scheduled: list[float] = []

    async def deliver(_notice: Notice) -> None:
        raise TransientDeliveryError("FCM 429 QUOTA_EXCEEDED", retry_after_s=600)

    async def retry_at(_key: str, _attempts: int, _due_at: Any, _error: str) -> None:
        return None

    async def later(_key: str, due: float) -> None:
        scheduled.append(due)

    settings = SimpleNamespace(retry_base_s=2.0, retry_max_s=300.0, max_attempts=12)
    dispatcher = Dispatcher(
        SimpleNamespace(),  # type: ignore[arg-type]
        settings,  # type: ignore[arg-type]
        {"push": SimpleNamespace(deliver=deliver)},  # type: ignore[dict-item]
        deliveries=SimpleNamespace(retry_at=retry_at),  # type: ignore[arg-type]
        queue=SimpleNamespace(later=later),  # type: ignore[arg-type]
        contacts=SimpleNamespace(),  # type: ignore[arg-type]
        renderer=Renderer(),
        tokens=UnsubscribeTokens("s" * 32, base_url="https://snapfix.test"),
    )
    context = {"issue_id": "42", "title": "Pothole", "category": "pothole", "issue_url": "https://x/1"}
    now = utcnow()
    delivery = new_delivery(
        cause_id="e1", recipient_id="user-1", channel="push", moment="report_received", context=context, now=now
    )
    assert await dispatcher._attempt(delivery, now, None) is False
    assert scheduled
    assert scheduled[0] >= now.timestamp() + 600


def test_push_senders_per_platform_follow_push_transport_unless_set() -> None:
    assert NotifySettings(push_transport="relay", push_relay_url="http://x").push_sender("apns") == "relay"
    mixed = NotifySettings(push_transport="relay", push_relay_url="http://x", push_apns="none")
    assert (mixed.push_sender("fcm"), mixed.push_sender("apns")) == ("relay", "none")
    transport = transport_for(mixed)
    assert isinstance(transport, PlatformTransport)
    assert isinstance(transport.by_platform["fcm"], WebhookPushTransport)
    assert isinstance(transport.by_platform["apns"], NoPushTransport)


def test_providers_without_credentials_are_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="SNAPFIX_FCM_SERVICE_ACCOUNT_FILE"):
        NotifySettings(push_fcm="fcm")
    with pytest.raises(ValidationError, match="SNAPFIX_APNS_KEY_ID, SNAPFIX_APNS_TEAM_ID"):
        NotifySettings(push_apns="apns", apns_key="-----BEGIN PRIVATE KEY-----")


def test_the_service_account_key_never_shows_in_the_settings_repr() -> None:
    info, _ = service_account("https://oauth2.googleapis.com/token")
    settings = NotifySettings(push_fcm="fcm", fcm_service_account_json=json.dumps(info))
    assert "PRIVATE KEY" not in repr(settings)
    assert "PRIVATE KEY" not in str(settings.model_dump())
