"""Kafka client TLS against a real TLS listener of the local Kafka.

The local stack adds an ``SSL`` listener (a certificate signed by a local CA, openssl)
for the test profile (``stack.py up --kafka-tls`` elsewhere) and names it in
``SNAPFIX_KAFKA_TLS_BOOTSTRAP`` / ``SNAPFIX_KAFKA_TLS_CA``. The broker factory, its
subscribers and the admin client all connect through it with the settings alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from snapfix_shared.kafka import create_broker
from snapfix_shared.kafka_security import aiokafka_options
from snapfix_shared.settings import KafkaSettings
from snapfix_shared.topics import ensure_topics
from tests.stack import _env_file_values, _reachable

pytestmark = pytest.mark.integration


def _setting(name: str) -> str:
    value = os.environ.get(name) or _env_file_values().get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: start Kafka with its TLS listener (`stack.py up --kafka-tls`; "
            "`make test` does it for the test profile)",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="module")
def tls_settings() -> KafkaSettings:
    bootstrap, ca = _setting("SNAPFIX_KAFKA_TLS_BOOTSTRAP"), _setting("SNAPFIX_KAFKA_TLS_CA")
    host, _, port = bootstrap.rpartition(":")
    if not _reachable(host, int(port)):
        pytest.fail(f"the Kafka TLS listener is not reachable at {bootstrap}", pytrace=False)
    return KafkaSettings(kafka_bootstrap_servers=bootstrap, kafka_security_protocol="SSL", kafka_ssl_cafile=ca)  # type: ignore[call-arg]


async def test_admin_client_and_topic_catalogue_over_tls(tls_settings: KafkaSettings) -> None:
    # The topics the stack created through the plaintext listener are all seen through TLS.
    created = await ensure_topics(
        tls_settings.kafka_bootstrap_servers, client_options=aiokafka_options(tls_settings), timeout_s=20
    )
    assert created == []


async def test_an_untrusted_certificate_is_refused(
    tls_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # Without the local CA (the system's trusted CAs only) the broker's certificate fails verification.
    untrusted = tls_settings.model_copy(update={"kafka_ssl_cafile": None})
    admin = AIOKafkaAdminClient(
        bootstrap_servers=untrusted.kafka_bootstrap_servers, request_timeout_ms=3000, **aiokafka_options(untrusted)
    )
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(admin.start(), 15)
    await admin.close()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text  # aiokafka logs the cause and raises its own error


async def test_the_broker_publishes_and_consumes_over_tls(tls_settings: KafkaSettings) -> None:
    topic = f"snapfix-tls-test-{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(
        bootstrap_servers=tls_settings.kafka_bootstrap_servers,
        request_timeout_ms=10000,
        **aiokafka_options(tls_settings),
    )
    await asyncio.wait_for(admin.start(), 20)
    try:
        await asyncio.wait_for(admin.create_topics([NewTopic(topic, 1, 1)]), 20)
        broker = create_broker(tls_settings, client_id="snapfix-tls-test")
        received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        @broker.subscriber(topic, group_id=f"tls-test-{uuid4().hex[:8]}", auto_offset_reset="earliest")
        async def handle(body: bytes) -> None:
            if not received.done():
                received.set_result(body)

        await asyncio.wait_for(broker.start(), 30)
        try:
            await asyncio.wait_for(broker.publish(b"over tls", topic, key=b"k"), 15)
            assert await asyncio.wait_for(received, 30) == b"over tls"
        finally:
            await broker.stop()
    finally:
        await asyncio.wait_for(admin.delete_topics([topic]), 20)
        await admin.close()
