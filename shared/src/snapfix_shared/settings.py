"""Settings fragments: each process composes the ones it needs into one BaseSettings.

Every field reads from a ``SNAPFIX_``-prefixed environment variable (for example
``SNAPFIX_KAFKA_BOOTSTRAP_SERVERS``); OpenTelemetry reads the standard ``OTEL_*``.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The development default of SNAPFIX_INTERNAL_TOKEN_SECRET (snapfix_shared.viewer warns when in use).
DEV_INTERNAL_TOKEN_SECRET = "snapfix-local-internal-token-secret-change-me-0123456789"  # noqa: S105

_CONFIG = SettingsConfigDict(env_prefix="SNAPFIX_", extra="ignore", frozen=True)


class HttpSettings(BaseSettings):
    model_config = _CONFIG

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    shutdown_grace_s: float = Field(default=10.0, gt=0)
    # HTTP worker processes (SNAPFIX_WORKERS); one per core the process may use.
    workers: int = Field(default=1, ge=1, le=64)
    # Peers trusted to say who the client is (X-Forwarded-For/-Proto): comma-separated addresses
    # or CIDR networks, or "*". The edge in front of the process: the local nginx by default; in
    # Kubernetes the ingress controller's pod network (deploy/k8s). Any other peer counts as itself.
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip() != "*":
                ipaddress.ip_network(item.strip(), strict=False)  # a ValueError names the item
        return value


class KafkaSettings(BaseSettings):
    model_config = _CONFIG

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Bounds how long a produce may wait for the broker's acknowledgement.
    kafka_request_timeout_ms: int = Field(default=5000, ge=500)
    # How long a publish waits for others before it is handed to the producer, so that those of
    # every partition go in one produce request (Java's linger.ms; aiokafka's own lingers per
    # partition, so its batches of 24 partitions would go one request each). 0: handed over at
    # once (a message still waits while an earlier request is in flight). Consumers publish a
    # batch at a time and keep 0; the gateway, one publish per request, sets 5 (Kafka 4.0's default).
    kafka_linger_ms: int = Field(default=0, ge=0, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # Client TLS and authentication (snapfix_shared.kafka_security builds the client options).
    # PLAINTEXT by default; prod sets SSL (Strimzi's TLS listener) or SASL_SSL with SCRAM.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    kafka_ssl_cafile: str | None = None  # None: the system's trusted CAs
    # A client certificate and key (PEM) for mutual TLS (Strimzi's `tls` authentication).
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_check_hostname: bool = True
    # SASL_SSL only: SCRAM-SHA-512 credentials (Strimzi's `scram-sha-512` authentication).
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None


class DevelopmentSecretInProduction(RuntimeError):
    """A production process was given no secret of its own (raised as is, not as a
    ValidationError, whose text would repeat every input, other secrets included)."""


def development_secrets(settings: BaseSettings) -> list[str]:
    """The variables of ``settings``' secrets that are unset, empty or still their development value.

    A secret is a ``SecretStr`` field with a non-empty default: a default in the code can
    only be a development secret (optional secrets, such as a password, default to None).
    """
    prefix = str(settings.model_config.get("env_prefix") or "")
    found = []
    for name, field in type(settings).model_fields.items():
        default = field.default
        if not isinstance(default, SecretStr) or not default.get_secret_value():
            continue
        value = getattr(settings, name)
        if not isinstance(value, SecretStr) or value.get_secret_value() in ("", default.get_secret_value()):
            found.append(f"{prefix}{name}".upper())
    return found


class ProcessSettings(HttpSettings, KafkaSettings):
    """What every SnapFix process reads: its HTTP listener and its Kafka client."""

    # development (`make run`, the tests): secrets may keep their development values, with a
    # warning; production (compose, Kubernetes): a process refuses to start with one of them.
    environment: Literal["development", "production"] = "development"

    # Consecutive failures of one dependency (Mongo, Redis, a service) that open its circuit,
    # and how long it stays open before one trial call is let through.
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_ttl_s: float = Field(default=10.0, gt=0)
    # Signs the gateway's internal tokens and commands' actor proofs (snapfix_shared.viewer): the
    # same value in every process, at least 32 random bytes. The previous value is still accepted
    # while a rotation rolls out (and while commands signed with it wait in Kafka).
    internal_token_secret: SecretStr = Field(default=SecretStr(DEV_INTERNAL_TOKEN_SECRET), min_length=32)
    internal_token_previous_secret: SecretStr | None = Field(default=None, min_length=32)
    # Container objects allocated (net of those freed) between two collections of the youngest
    # generation while the process runs (CPython's default 700). A request's objects die young,
    # mostly by reference counting; collected every 700 those in flight are walked again and again
    # and promoted, and the older generations' collections follow. 20,000: the gateway's accept path
    # +13 % reports/s and a third of the p99 at 550 req/s (bench A/B, docs/operations.md).
    gc_young_threshold: int = Field(default=20_000, ge=700)

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> Self:
        if self.environment == "production" and (unset := development_secrets(self)):
            raise DevelopmentSecretInProduction(
                f"SNAPFIX_ENVIRONMENT=production, but {', '.join(unset)} is unset, empty or the development "
                "secret: set each to at least 32 random characters"
            )
        return self


class MongoSettings(BaseSettings):
    model_config = _CONFIG

    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_timeout_ms: int = Field(default=3000, ge=100)


class RedisSettings(BaseSettings):
    model_config = _CONFIG

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = Field(default=0.5, gt=0)
    # At most this many connections per process (one Redis server; a cluster client is not bounded
    # here); a call finding them all busy waits up to redis_timeout_s, then fails as Redis being
    # down does. None: redis-py's 100, past which a call fails at once.
    redis_max_connections: int | None = Field(default=None, ge=1)
    cache_ttl_s: int = Field(default=300, ge=1)
    # A Redis Cluster (the operator's) instead of one node: redis_url names one seed node,
    # the client discovers the others. Multi-key operations use {hash tags}.
    redis_cluster: bool = False
    # For rediss:// URLs: the CA to verify the server with (None: the system's trusted CAs).
    redis_ssl_ca_file: str | None = None
