"""Fixtures the unit tests share: the fake push providers of tests/push_fakes.py, started on
loopback, and the real FCM and APNs senders pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from snapfix_notify.channels.push.apns import ApnsTransport, apns_ssl_context
from snapfix_notify.channels.push.fcm import FcmTransport
from tests.push_fakes import FakeApns, FakeFcm, apns_key, tls_for_loopback
from tests.unit.push_providers import KEY_ID, TEAM_ID, TOPIC


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
