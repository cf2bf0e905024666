"""A process told it runs in production (SNAPFIX_ENVIRONMENT=production) refuses to start
with a secret that is unset, empty or the development value shipped in the code."""

from __future__ import annotations

from typing import Any

import pytest

from snapfix_analytics.config import AnalyticsSettings
from snapfix_gateway.config import GatewaySettings
from snapfix_issues.config import IssuesSettings
from snapfix_media.config import MediaSettings
from snapfix_notify.config import NotifySettings
from snapfix_shared.settings import DevelopmentSecretInProduction, ProcessSettings

pytestmark = pytest.mark.unit

REAL = "a-production-secret-of-at-least-32-characters-0123"
SECRETS: list[tuple[type[ProcessSettings], str]] = [
    (GatewaySettings, "jwt_secret"),
    (MediaSettings, "upload_secret"),
    (NotifySettings, "unsubscribe_secret"),
    (AnalyticsSettings, "pseudonym_secret"),
    (IssuesSettings, "internal_token_secret"),  # every process's (ProcessSettings)
]


def secret(field: str, value: str) -> dict[str, Any]:
    """``field`` set to ``value``, and every process's own secret to a real one (unless it is ``field``)."""
    return {"internal_token_secret": REAL, field: value}


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
        settings(
            environment="production", **({} if field == "internal_token_secret" else {"internal_token_secret": REAL})
        )


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_production_refuses_the_development_secret_given_explicitly(
    settings: type[ProcessSettings], field: str
) -> None:
    development = settings.model_fields[field].default.get_secret_value()
    with pytest.raises(DevelopmentSecretInProduction, match=f"SNAPFIX_{field.upper()}"):
        settings(environment="production", **secret(field, development))


def test_production_refuses_an_empty_unsubscribe_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # Compose once passed SNAPFIX_UNSUBSCRIBE_SECRET= through, which meant "the development secret".
    monkeypatch.setenv("SNAPFIX_UNSUBSCRIBE_SECRET", "")
    with pytest.raises(DevelopmentSecretInProduction, match="SNAPFIX_UNSUBSCRIBE_SECRET"):
        NotifySettings(environment="production")


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
def test_production_starts_with_a_secret_of_its_own(settings: type[ProcessSettings], field: str) -> None:
    assert getattr(settings(environment="production", **secret(field, REAL)), field).get_secret_value() == REAL


@pytest.mark.parametrize(("settings", "field"), SECRETS)
def test_development_keeps_the_development_secret(settings: type[ProcessSettings], field: str) -> None:
    made = settings()
    assert made.environment == "development"
    assert getattr(made, field) == settings.model_fields[field].default


def test_a_process_with_only_the_internal_secret_starts_in_production() -> None:
    assert IssuesSettings(environment="production", internal_token_secret=REAL).environment == "production"
