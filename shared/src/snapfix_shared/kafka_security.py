"""Kafka client TLS and SASL from settings, for FastStream's broker and plain aiokafka clients.

``SNAPFIX_KAFKA_SECURITY_PROTOCOL`` picks the listener kind:

- ``PLAINTEXT`` (default, local stack): no options at all, so nothing changes;
- ``SSL``: TLS verified against ``SNAPFIX_KAFKA_SSL_CAFILE`` (or the system CAs), with an
  optional client certificate and key for mutual TLS (Strimzi ``tls`` authentication);
- ``SASL_SSL``: the same TLS plus SCRAM-SHA-512 credentials (Strimzi ``scram-sha-512``).

Both the broker factory and the admin client read the same function, so a process never
has one client on TLS and another one on plaintext.
"""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import BaseSecurity, SASLScram512

from snapfix_shared.settings import KafkaSettings


class KafkaSecurityError(ValueError):
    """The Kafka security settings do not make a usable client configuration."""


def kafka_ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context the Kafka clients use, or None on a plaintext listener."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    # The stdlib's defaults: certificate required, TLS 1.2 at least, hostname checked.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    elif settings.kafka_ssl_keyfile:
        raise KafkaSecurityError("SNAPFIX_KAFKA_SSL_KEYFILE is set without SNAPFIX_KAFKA_SSL_CERTFILE")
    # Brokers reached by an address their certificate does not name (rare): the chain is
    # still verified against the CA; only the name match is skipped.
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def _scram_credentials(settings: KafkaSettings) -> tuple[str, str]:
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaSecurityError(
            "SNAPFIX_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs SNAPFIX_KAFKA_SASL_USERNAME and SNAPFIX_KAFKA_SASL_PASSWORD"
        )
    return settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value()


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """What FastStream's ``KafkaBroker(security=...)`` takes (None: plaintext)."""
    context = kafka_ssl_context(settings)
    if settings.kafka_security_protocol == "SASL_SSL":
        username, password = _scram_credentials(settings)
        return SASLScram512(username, password, ssl_context=context, use_ssl=True)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def aiokafka_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (admin, producer, consumer); {} on plaintext."""
    context = kafka_ssl_context(settings)
    if context is None:
        return {}
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol, "ssl_context": context}
    if settings.kafka_security_protocol == "SASL_SSL":
        username, password = _scram_credentials(settings)
        options |= {
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options
