"""Client TLS and Redis Cluster settings turn into the right client configurations."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from limits import parse
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from snapfix_gateway.ratelimit import Limiter, Policy
from snapfix_shared.kafka import create_broker
from snapfix_shared.kafka_security import KafkaSecurityError, aiokafka_options, broker_security, kafka_ssl_context
from snapfix_shared.redis_client import redis_client, redis_options
from snapfix_shared.settings import KafkaSettings, RedisSettings

pytestmark = pytest.mark.unit


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A throwaway certificate and its key (openssl, as deploy/local/install.sh installs it)."""
    assert shutil.which("openssl"), "openssl is needed (deploy/local/install.sh installs it)"
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pem")
    ca, ca_key = _self_signed(folder, "ca")
    client, client_key = _self_signed(folder, "client")
    return {"ca": ca, "ca_key": ca_key, "client": client, "client_key": client_key}


def test_plaintext_by_default_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPFIX_KAFKA_SECURITY_PROTOCOL", raising=False)
    settings = KafkaSettings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert kafka_ssl_context(settings) is None
    assert broker_security(settings) is None
    assert aiokafka_options(settings) == {}
    broker = create_broker(settings, client_id="snapfix-unit")
    assert broker._connection_kwargs.get("security_protocol", "PLAINTEXT") == "PLAINTEXT"
    assert broker._connection_kwargs.get("ssl_context") is None


def test_ssl_from_the_environment_reaches_the_broker(monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]) -> None:
    # What the prod overlay sets.
    monkeypatch.setenv("SNAPFIX_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("SNAPFIX_KAFKA_SSL_CAFILE", str(pem["ca"]))
    settings = KafkaSettings()
    context = kafka_ssl_context(settings)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ca"),),)]

    broker = create_broker(settings, client_id="snapfix-unit")
    assert broker._connection_kwargs["security_protocol"] == "SSL"
    assert isinstance(broker._connection_kwargs["ssl_context"], ssl.SSLContext)
    options = aiokafka_options(settings)
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options


def test_a_missing_ca_file_fails_at_start_not_at_first_use(tmp_path: Path) -> None:
    settings = KafkaSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "absent.pem"))
    with pytest.raises(FileNotFoundError):
        kafka_ssl_context(settings)


def test_mutual_tls_loads_the_client_certificate(pem: dict[str, Path]) -> None:
    ok = KafkaSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(pem["ca"]),
        kafka_ssl_certfile=str(pem["client"]),
        kafka_ssl_keyfile=str(pem["client_key"]),
    )
    assert kafka_ssl_context(ok) is not None
    mismatched = ok.model_copy(update={"kafka_ssl_keyfile": str(pem["ca_key"])})
    with pytest.raises(ssl.SSLError):  # proof the pair is really loaded: a wrong key is refused
        kafka_ssl_context(mismatched)
    with pytest.raises(KafkaSecurityError):
        kafka_ssl_context(ok.model_copy(update={"kafka_ssl_certfile": None}))


def test_hostname_check_can_be_turned_off_but_not_verification(pem: dict[str, Path]) -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=str(pem["ca"]), kafka_ssl_check_hostname=False
    )
    context = kafka_ssl_context(settings)
    assert context is not None
    assert not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_ssl_uses_scram_sha_512(monkeypatch: pytest.MonkeyPatch, pem: dict[str, Path]) -> None:
    monkeypatch.setenv("SNAPFIX_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SNAPFIX_KAFKA_SSL_CAFILE", str(pem["ca"]))
    monkeypatch.setenv("SNAPFIX_KAFKA_SASL_USERNAME", "snapfix-issues")
    monkeypatch.setenv("SNAPFIX_KAFKA_SASL_PASSWORD", "s3cret")
    settings = KafkaSettings()
    assert "s3cret" not in repr(settings)  # a SecretStr: never in logs
    security = broker_security(settings)
    assert isinstance(security, SASLScram512)
    parsed = parse_security(security)  # what FastStream hands to aiokafka
    assert parsed["security_protocol"] == "SASL_SSL"
    assert parsed["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (parsed["sasl_plain_username"], parsed["sasl_plain_password"]) == ("snapfix-issues", "s3cret")
    assert isinstance(parsed["ssl_context"], ssl.SSLContext)
    options = aiokafka_options(settings)
    assert {k: options[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username")} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "snapfix-issues",
    }


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(KafkaSecurityError, match="SASL_USERNAME"):
        broker_security(KafkaSettings(kafka_security_protocol="SASL_SSL"))


def test_an_unknown_protocol_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPFIX_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")  # credentials in clear: not offered
    with pytest.raises(ValidationError):
        KafkaSettings()


def test_redis_defaults_are_one_node_without_tls() -> None:
    settings = RedisSettings(redis_url="redis://127.0.0.1:6379/0")
    client = redis_client(settings)
    assert type(client) is Redis
    assert "ssl_ca_certs" not in redis_options(settings)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == settings.redis_timeout_s


def test_redis_ca_file_goes_only_with_a_tls_url(pem: dict[str, Path]) -> None:
    plain = RedisSettings(redis_url="redis://cache:6379/0", redis_ssl_ca_file=str(pem["ca"]))
    assert "ssl_ca_certs" not in redis_options(plain)  # a plain connection would refuse the argument
    tls = plain.model_copy(update={"redis_url": "rediss://:pw@cache:6380/0"})
    client = redis_client(tls)
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == str(pem["ca"])
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_redis_cluster_setting_makes_a_cluster_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPFIX_REDIS_CLUSTER", "true")
    monkeypatch.setenv("SNAPFIX_REDIS_URL", "rediss://:pw@redis-cluster:6379/0")
    settings = RedisSettings()
    client = redis_client(settings, socket_timeout=7.0)
    assert isinstance(client, RedisCluster)
    kwargs = client.connection_kwargs
    assert kwargs["socket_timeout"] == 7.0
    assert kwargs["socket_connect_timeout"] == settings.redis_timeout_s
    assert kwargs["password"] == "pw"
    assert kwargs["connection_class"].__name__ == "SSLConnection"


def test_the_prod_overlay_turns_tls_and_the_cluster_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The overlay's literals are the settings' real names: a typo would leave prod on plaintext."""
    overlay = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays" / "prod" / "kustomization.yaml"
    (config,) = (g for g in yaml.safe_load(overlay.read_text())["configMapGenerator"] if g["name"] == "snapfix-config")
    literals = dict(item.split("=", 1) for item in config["literals"])
    for name, value in literals.items():
        monkeypatch.setenv(name, value)
    kafka, redis = KafkaSettings(), RedisSettings()
    assert kafka.kafka_security_protocol == "SSL"
    assert kafka.kafka_ssl_cafile == literals["SNAPFIX_KAFKA_SSL_CAFILE"]
    assert redis.redis_cluster
    assert redis.redis_ssl_ca_file == "/etc/snapfix/ca/ca.crt"


async def test_an_unreachable_cluster_is_a_redis_connection_error() -> None:
    """Callers degrade on RedisError (REDIS_DOWN) as with one node; redis-py's own
    "cluster cannot be connected" exception is not one, so the client translates it."""
    down = redis_client(RedisSettings(redis_url="redis://127.0.0.1:1/0", redis_cluster=True, redis_timeout_s=0.2))
    with pytest.raises(RedisConnectionError):
        await down.get("k")
    with pytest.raises(RedisConnectionError):
        await down.register_script("return 1")(keys=["k"])

    async def pipelined() -> None:
        async with down.pipeline(transaction=False) as pipe:  # entering it already initializes
            pipe.get("a")
            pipe.get("b")
            await pipe.execute()

    with pytest.raises(RedisConnectionError):
        await pipelined()
    await down.aclose()


async def test_the_rate_limiter_counts_locally_while_the_cluster_is_unreachable() -> None:
    down = redis_client(RedisSettings(redis_url="redis://127.0.0.1:1/0", redis_cluster=True, redis_timeout_s=0.2))
    limiter = Limiter(down)
    policy = Policy("unit", parse("2/minute"))
    verdicts = [await limiter.check(policy, "caller") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert limiter.degraded
    await down.aclose()
