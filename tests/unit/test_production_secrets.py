"""A process told it runs in production (SNAPFIX_ENVIRONMENT=production) refuses to start
with a secret that is unset, empty or the development value shipped in the code."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from snapfix_analytics.config import AnalyticsSettings
from snapfix_gateway.config import GatewaySettings
from snapfix_issues.config import IssuesSettings
from snapfix_media.config import MediaSettings
from snapfix_notify.config import NotifySettings
from snapfix_shared.settings import DevelopmentSecretInProduction, ProcessSettings

pytestmark = pytest.mark.unit

# A real secret fits every secret setting: 44 random url-safe characters, a Fernet key for the link seal.
REAL = Fernet.generate_key().decode()
SECRETS: list[tuple[type[ProcessSettings], str]] = [
    (GatewaySettings, "jwt_secret"),
    (GatewaySettings, "link_seal_key"),
    (NotifySettings, "link_seal_key"),
    (MediaSettings, "upload_secret"),
    (NotifySettings, "unsubscribe_secret"),
    (AnalyticsSettings, "pseudonym_secret"),
    (IssuesSettings, "internal_token_secret"),  # every process's (ProcessSettings)
]


def secrets_of(settings: type[ProcessSettings]) -> list[str]:
    """The secret settings of ``settings``: those with a development default."""
    return [n for n, f in settings.model_fields.items() if isinstance(f.default, SecretStr) and f.default]


def secret(settings: type[ProcessSettings], field: str, value: str) -> dict[str, Any]:
    """``field`` set to ``value``, and every other secret of ``settings`` to a real one."""
    return {**dict.fromkeys(secrets_of(settings), REAL), field: value}


def others(settings: type[ProcessSettings], field: str) -> dict[str, Any]:
    """Every secret of ``settings`` but ``field`` set to a real one (``field`` left unset)."""
    return {name: REAL for name in secrets_of(settings) if name != field}


@pytest.fixture(autouse=True)
def _no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPFIX_ENVIRONMENT", raising=False)
    for _, field in SECRETS:
        monkeypatch.delenv(f"SNAPFIX_{field.upper()}", raising=False)


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_production_refuses_the_development_secret_naming_its_variable(
    settings: type[ProcessSettings], field: str
) -> None:
    with pytest.raises(DevelopmentSecretInProduction, match=f"SNAPFIX_{field.upper()}"):
        settings(environment="production", **others(settings, field))


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_production_refuses_the_development_secret_given_explicitly(
    settings: type[ProcessSettings], field: str
) -> None:
    development = settings.model_fields[field].default.get_secret_value()
    with pytest.raises(DevelopmentSecretInProduction, match=f"SNAPFIX_{field.upper()}"):
        settings(environment="production", **secret(settings, field, development))


def test_production_refuses_an_empty_unsubscribe_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # Compose once passed SNAPFIX_UNSUBSCRIBE_SECRET= through, which meant "the development secret".
    monkeypatch.setenv("SNAPFIX_UNSUBSCRIBE_SECRET", "")
    with pytest.raises(DevelopmentSecretInProduction, match="SNAPFIX_UNSUBSCRIBE_SECRET"):
        NotifySettings(environment="production", **others(NotifySettings, "unsubscribe_secret"))


def test_production_reads_the_environment_from_snapfix_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPFIX_ENVIRONMENT", "production")
    with pytest.raises(DevelopmentSecretInProduction, match="SNAPFIX_JWT_SECRET"):
        GatewaySettings()


def test_the_refusal_repeats_no_other_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPFIX_NOTIFY_SMTP_PASSWORD", "smtp-password-never-printed")
    with pytest.raises(DevelopmentSecretInProduction) as refused:
        NotifySettings(environment="production")
    assert "smtp-password-never-printed" not in str(refused.value)


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_production_starts_with_secrets_of_its_own(settings: type[ProcessSettings], field: str) -> None:
    assert (
        getattr(settings(environment="production", **secret(settings, field, REAL)), field).get_secret_value() == REAL
    )


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_development_keeps_the_development_secret(settings: type[ProcessSettings], field: str) -> None:
    made = settings()
    assert made.environment == "development"
    assert getattr(made, field) == settings.model_fields[field].default


def test_a_process_with_only_the_internal_secret_starts_in_production() -> None:
    assert IssuesSettings(environment="production", internal_token_secret=REAL).environment == "production"


def test_production_refuses_the_development_push_relay_secret_when_the_relay_is_used() -> None:
    real = others(NotifySettings, "")
    with pytest.raises(DevelopmentSecretInProduction, match="SNAPFIX_PUSH_RELAY_SECRET"):
        NotifySettings(environment="production", push_transport="relay", push_relay_url="https://relay.example", **real)
    assert NotifySettings(environment="production", push_transport="none", **real).push_transport == "none"
    relay_secret = "whsec_" + REAL.replace("-", "A").replace("_", "B").rstrip("=")
    relayed = NotifySettings(
        environment="production",
        push_transport="relay",
        push_relay_url="https://relay.example",
        push_relay_secret=relay_secret,
        **real,
    )
    assert relayed.push_relay_secret == relay_secret
