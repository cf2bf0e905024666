"""The real FCM sender against a local fake that checks the protocol (tests/push_fakes.py).

FCM HTTP v1: the service account's JWT assertion (signature and claims) exchanged for an
access token, cached and refreshed; messages:send with that Bearer token; the error
mapping (UNREGISTERED drops the device, 429/503 retried after Retry-After, INVALID_ARGUMENT
failed). The fakes are tests/unit/conftest.py's ``fcm`` and ``fcm_sender``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.utils import format_datetime

import pytest

from snapfix_notify.channels import PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.fcm import FcmTransport
from snapfix_notify.channels.push.messages import DeviceGone, fcm_message, retry_after_s
from snapfix_shared.messages.base import utcnow
from tests.push_fakes import FakeFcm, FcmAnswer, service_account
from tests.unit.test_notify_push import make_device, make_notice

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


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
