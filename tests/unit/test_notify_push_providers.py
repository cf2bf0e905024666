"""The real push senders against local fakes that check the protocol (tests/push_fakes.py).

FCM HTTP v1: the service account's JWT assertion (signature and claims) exchanged for an
access token, cached and refreshed; messages:send with that Bearer token; the error
mapping (UNREGISTERED drops the device, 429/503 retried after Retry-After, INVALID_ARGUMENT
failed). APNs: aioapns over HTTP/2 + TLS with the ES256 provider token, the path, the topic
and the payload; 410/BadDeviceToken drops the device, 429/503 retried.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.apns import ApnsTransport, apns_ssl_context, device_push_id
from snapfix_notify.channels.push.channel import PushChannel
from snapfix_notify.channels.push.fcm import FcmTransport
from snapfix_notify.channels.push.messages import DeviceGone, PushBuilder, apns_message, fcm_message, retry_after_s
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
from tests.push_fakes import FakeApns, FakeFcm, FcmAnswer, apns_key, service_account, tls_for_loopback
from tests.unit.test_notify_push import FakeDevices, make_device, make_notice

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

TOPIC = "dev.snapfix.app"
KEY_ID, TEAM_ID = "ABC123DEFG", "TEAM123456"


# -- FCM ---------------------------------------------------------------------------------------


@pytest.fixture
async def fcm() -> AsyncIterator[FakeFcm]:
    fake = (await FakeFcm().start()).with_service_account()
    yield fake
    await fake.stop()


@pytest.fixture
async def fcm_sender(fcm: FakeFcm) -> AsyncIterator[FcmTransport]:
    sender = FcmTransport(fcm.service_account, base_url=fcm.base_url, timeout_s=5)
    await sender.start()
    yield sender
    await sender.close()


async def fcm_send(sender: FcmTransport, token: str = "fcm-token") -> None:
    device = make_device("pixel", "fcm", token=token)
    await sender.send(device, make_notice(), fcm_message(make_notice(), token))


async def test_fcm_exchanges_a_signed_assertion_for_a_token_and_sends_the_message(
    fcm: FakeFcm, fcm_sender: FcmTransport
) -> None:
    await fcm_send(fcm_sender)

    assert fcm.refused_assertions == []
    [claims] = fcm.assertions  # verified by the fake: RS256 signature, kid, iss, aud = token_uri, scope, iat/exp
    assert claims["iss"] == fcm.client_email
    assert claims["aud"] == fcm.token_uri
    [message] = fcm.messages
    assert message["token"] == "fcm-token"
    assert message["notification"]["title"] == "Your report was acknowledged"
    assert message["android"]["collapse_key"] == "42"
    assert fcm.bearer_refused == 0


async def test_fcm_an_assertion_signed_by_another_key_is_refused_and_nothing_is_sent(fcm: FakeFcm) -> None:
    stranger, _ = service_account(fcm.token_uri)  # same shape and email, another private key
    stranger["client_email"] = fcm.client_email
    sender = FcmTransport(stranger, base_url=fcm.base_url, timeout_s=5)
    await sender.start()
    try:
        with pytest.raises(PermanentDeliveryError, match="access token refused"):
            await fcm_send(sender)
    finally:
        await sender.close()
    assert fcm.refused_assertions
    assert "Signature" in fcm.refused_assertions[0]
    assert fcm.messages == []


async def test_fcm_an_assertion_for_another_audience_is_refused(fcm: FakeFcm) -> None:
    elsewhere = fcm.service_account | {"token_uri": f"{fcm.token_uri}?audience=other"}  # same endpoint, other aud
    sender = FcmTransport(elsewhere, base_url=fcm.base_url, timeout_s=5)
    await sender.start()
    try:
        with pytest.raises(PermanentDeliveryError, match="access token refused"):
            await fcm_send(sender)
    finally:
        await sender.close()
    assert fcm.refused_assertions
    assert "Audience" in fcm.refused_assertions[0]


async def test_fcm_the_access_token_is_cached_across_sends(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    await fcm_send(fcm_sender)
    await asyncio.gather(*(fcm_send(fcm_sender) for _ in range(5)))
    assert len(fcm.assertions) == 1
    assert len(fcm.messages) == 6


async def test_fcm_concurrent_first_sends_share_one_token_request(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    await asyncio.gather(*(fcm_send(fcm_sender) for _ in range(8)))
    assert len(fcm.assertions) == 1
    assert len(fcm.messages) == 8


async def test_fcm_a_token_close_to_expiry_is_refreshed_before_the_send(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    fcm.expires_in = 120  # inside google-auth's refresh margin (3 min 45 s): stale as soon as issued
    await fcm_send(fcm_sender)
    await fcm_send(fcm_sender)
    assert len(fcm.assertions) == 2
    assert fcm.bearer_refused == 0  # each send carried the token just issued
    assert fcm_sender.credentials.token == "ya29.fake-2"


async def test_fcm_a_refused_bearer_token_is_retried_with_a_new_one(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    await fcm_send(fcm_sender)
    fcm.revoke_tokens()
    with pytest.raises(TransientDeliveryError, match="401"):
        await fcm_send(fcm_sender)
    await fcm_send(fcm_sender)  # the retry refreshes first
    assert len(fcm.assertions) == 2
    assert len(fcm.messages) == 2


async def test_fcm_unregistered_is_a_gone_device(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    fcm.answers["dead"] = FcmAnswer(404, "UNREGISTERED")
    with pytest.raises(DeviceGone, match="UNREGISTERED"):
        await fcm_send(fcm_sender, "dead")


async def test_fcm_invalid_argument_fails_for_good_and_keeps_the_device(fcm: FakeFcm, fcm_sender: FcmTransport) -> None:
    fcm.answers["odd"] = FcmAnswer(400, "INVALID_ARGUMENT")
    with pytest.raises(PermanentDeliveryError, match="INVALID_ARGUMENT") as caught:
        await fcm_send(fcm_sender, "odd")
    assert not isinstance(caught.value, DeviceGone)


@pytest.mark.parametrize(
    ("answer", "expected_s"),
    [
        (FcmAnswer(429, "QUOTA_EXCEEDED", {"retry-after": "17"}), 17.0),
        (FcmAnswer(503, "UNAVAILABLE", {"retry-after": "120"}), 120.0),
        (FcmAnswer(500, "INTERNAL"), None),
    ],
)
async def test_fcm_overload_is_retried_not_before_retry_after(
    fcm: FakeFcm, fcm_sender: FcmTransport, answer: FcmAnswer, expected_s: float | None
) -> None:
    fcm.answers["busy"] = answer
    with pytest.raises(TransientDeliveryError) as caught:
        await fcm_send(fcm_sender, "busy")
    assert caught.value.retry_after_s == expected_s


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("30") == 30.0
    later = format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)
    assert 85 <= (retry_after_s(later) or 0) <= 90
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
    assert retry_after_s("9999999") == 24 * 3600.0


# -- APNs --------------------------------------------------------------------------------------


@pytest.fixture
async def apns(tmp_path: Path) -> AsyncIterator[FakeApns]:
    tls = tls_for_loopback(tmp_path)
    key, public_key = apns_key()
    fake = await FakeApns(tls.server, public_key, KEY_ID, TEAM_ID, TOPIC, key, tls.ca_file).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def apns_sender(apns: FakeApns) -> AsyncIterator[ApnsTransport]:
    sender = ApnsTransport(
        key=apns.key_pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        server=("127.0.0.1", apns.port),
        ssl_context=apns_ssl_context(str(apns.ca_file)),
        timeout_s=5,
    )
    await sender.start()
    yield sender
    await sender.close()


async def apns_send(sender: ApnsTransport, token: str = "a1b2c3", **notice: Any) -> None:
    device = make_device("iphone", "apns", token=token)
    await sender.send(device, make_notice(**notice), apns_message(make_notice(**notice), token, topic=TOPIC))


async def test_apns_sends_over_http2_with_a_signed_provider_token(apns: FakeApns, apns_sender: ApnsTransport) -> None:
    await apns_send(apns_sender)
    assert apns.refused == []
    [request] = apns.received
    assert request.headers[":path"] == "/3/device/a1b2c3"
    assert request.headers["apns-topic"] == TOPIC
    assert request.headers["apns-push-type"] == "alert"
    assert request.headers["apns-collapse-id"] == "42"
    message_id = apns_message(make_notice(), "a1b2c3", topic=TOPIC).headers["apns-id"]
    assert request.headers["apns-id"] == device_push_id(message_id, make_device("iphone", "apns"))
    assert request.jwt_header["kid"] == KEY_ID
    assert request.claims["iss"] == TEAM_ID
    assert request.body["aps"]["alert"]["title"] == "Your report was acknowledged"
    assert request.body["issue_id"] == "42"


async def test_apns_reuses_its_connection(apns: FakeApns, apns_sender: ApnsTransport) -> None:
    await apns_send(apns_sender)
    await asyncio.gather(*(apns_send(apns_sender, key=f"evt-{i}/user-1/push") for i in range(5)))
    assert len(apns.received) == 6
    assert apns.connections == 1


async def test_apns_a_key_apple_does_not_know_is_refused_and_fails_for_good(
    apns: FakeApns, apns_sender: ApnsTransport
) -> None:
    apns.public_key = apns_key()[1]  # the fake now trusts another key
    with pytest.raises(PermanentDeliveryError, match="InvalidProviderToken") as caught:
        await apns_send(apns_sender)
    assert not isinstance(caught.value, DeviceGone)
    assert apns.refused
    assert apns.received == []


@pytest.mark.parametrize(("status", "reason"), [(410, "Unregistered"), (400, "BadDeviceToken")])
async def test_apns_a_dead_token_is_a_gone_device(
    apns: FakeApns, apns_sender: ApnsTransport, status: int, reason: str
) -> None:
    apns.answers["dead"] = (status, reason)
    with pytest.raises(DeviceGone, match=reason):
        await apns_send(apns_sender, "dead")


@pytest.mark.parametrize(("status", "reason"), [(429, "TooManyRequests"), (503, "ServiceUnavailable")])
async def test_apns_overload_is_retried(apns: FakeApns, apns_sender: ApnsTransport, status: int, reason: str) -> None:
    apns.answers["busy"] = (status, reason)
    with pytest.raises(TransientDeliveryError, match=str(status)):
        await apns_send(apns_sender, "busy")
    await apns_send(apns_sender)  # the connection is still good for the next one
    assert len(apns.received) == 2


async def test_apns_an_unreachable_server_is_transient(apns: FakeApns) -> None:
    await apns.stop()
    sender = ApnsTransport(
        key=apns.key_pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        server=("127.0.0.1", apns.port),
        ssl_context=apns_ssl_context(str(apns.ca_file)),
        timeout_s=3,
    )
    await sender.start()
    try:
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            await apns_send(sender)
    finally:
        await sender.close()


async def test_apns_refuses_a_server_its_ca_does_not_vouch_for(apns: FakeApns) -> None:
    sender = ApnsTransport(
        key=apns.key_pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        server=("127.0.0.1", apns.port),
        ssl_context=apns_ssl_context(),  # the system's CAs: the test CA is not among them
        timeout_s=3,
    )
    await sender.start()
    try:
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            await apns_send(sender)
    finally:
        await sender.close()
    assert apns.received == []
    assert apns.connections == 0  # the handshake failed: no HTTP/2 connection was served


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

    async def deliver(notice: Notice) -> None:
        raise TransientDeliveryError("FCM 429 QUOTA_EXCEEDED", retry_after_s=600)

    async def retry_at(key: str, attempts: int, due_at: Any, error: str) -> None:
        return None

    async def later(key: str, due: float) -> None:
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


def test_the_service_account_key_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    info, _ = service_account("https://oauth2.googleapis.com/token")
    settings = NotifySettings(push_fcm="fcm", fcm_service_account_json=json.dumps(info))
    assert "PRIVATE KEY" not in repr(settings)
    assert "PRIVATE KEY" not in str(settings.model_dump())
