"""The real APNs sender against a local fake that checks the protocol (tests/push_fakes.py).

aioapns over HTTP/2 + TLS with the ES256 provider token, the path, the topic and the
payload; 410/BadDeviceToken drops the device, 429/503 retried. The fakes are
tests/unit/conftest.py's ``apns`` and ``apns_sender``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from snapfix_notify.channels import PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.apns import ApnsTransport, apns_ssl_context, device_push_id
from snapfix_notify.channels.push.messages import DeviceGone, apns_message
from tests.push_fakes import FakeApns, apns_key
from tests.unit.push_providers import KEY_ID, TEAM_ID, TOPIC
from tests.unit.test_notify_push import make_device, make_notice

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


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
