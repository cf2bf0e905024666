"""Settings of the notify service (``SNAPFIX_*`` environment variables; SMTP as ``NOTIFY_SMTP_*``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSealKey
from snapfix_shared.settings import DevelopmentSecretInProduction, MongoSettings, ProcessSettings, RedisSettings

# Only for a laptop: `make run` and the tests. A deployment sets SNAPFIX_UNSUBSCRIBE_SECRET
# (at least 32 random bytes); the service logs a warning when this default is in use.
DEV_UNSUBSCRIBE_SECRET = "snapfix-local-unsubscribe-secret-change-me-0123456789"  # noqa: S105
# Signs push relay posts (tests and `make run` only); a deployment with a relay sets its own.
DEV_PUSH_RELAY_SECRET = "whsec_c25hcGZpeC1sb2NhbC1wdXNoLXJlbGF5LXNlY3JldA=="  # noqa: S105


def _env(name: str) -> AliasChoices:
    # The SMTP settings keep the names operators know (NOTIFY_SMTP_HOST ...), with or without SNAPFIX_.
    return AliasChoices(name, f"SNAPFIX_{name}")


class NotifySettings(ProcessSettings, MongoSettings, RedisSettings):
    model_config = SettingsConfigDict(env_prefix="SNAPFIX_", extra="ignore", frozen=True, populate_by_name=True)

    http_port: int = 8003
    mongo_database: str = "snapfix_notify"
    # Explicit groups: each topic's consumer commits on its own. (Named notify_*: every process
    # reads the same SNAPFIX_* environment, and the media service has an issues_events_group.)
    notify_users_group: str = "notify-users"
    notify_issues_group: str = "notify-issues"
    events_batch: int = Field(default=200, ge=1, description="Records per consumed batch")

    # -- links in messages
    public_base_url: str = Field(default="http://127.0.0.1:8000", description="The gateway, as clients reach it")
    # The web app, when there is one (the gateway reads the same variable): messages then link to its
    # pages (/issues/{id}, /issues/{id}?action=reopen, /unsubscribe?token=), never to raw API URLs.
    # List-Unsubscribe stays on the API's one-click POST (RFC 8058: mail clients POST there).
    web_base_url: str | None = Field(default=None, description="The web app's URL, for links in messages")
    # Opens the links the gateway seals on users.events.v1 (snapfix_shared.sealing): the gateway's key(s).
    link_seal_key: LinkSealKey = SecretStr(DEV_LINK_SEAL_KEY)
    app_name: str = "SnapFix"

    # -- email over SMTP
    smtp_host: str = Field(default="127.0.0.1", validation_alias=_env("NOTIFY_SMTP_HOST"))
    smtp_port: int = Field(default=1025, ge=1, le=65535, validation_alias=_env("NOTIFY_SMTP_PORT"))
    smtp_from: str = Field(default="SnapFix <no-reply@snapfix.example>", validation_alias=_env("NOTIFY_SMTP_FROM"))
    smtp_tls: Literal["none", "starttls", "implicit"] = Field(default="none", validation_alias=_env("NOTIFY_SMTP_TLS"))
    smtp_username: str | None = Field(default=None, validation_alias=_env("NOTIFY_SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(default=None, validation_alias=_env("NOTIFY_SMTP_PASSWORD"))
    smtp_timeout_s: float = Field(default=10.0, gt=0, validation_alias=_env("NOTIFY_SMTP_TIMEOUT_S"))
    unsubscribe_mailto: str | None = Field(default=None, description="Also offer mailto: in List-Unsubscribe")
    unsubscribe_secret: SecretStr = SecretStr(DEV_UNSUBSCRIBE_SECRET)

    # -- delivery
    send_concurrency: int = Field(default=32, ge=2, description="Sends in flight at once (claimed in two batches)")
    retry_base_s: float = Field(default=2.0, gt=0, description="First retry delay; doubles, with full jitter")
    retry_max_s: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=12, ge=1, description="Then a transient failure counts as failed for good")
    lease_s: float = Field(default=60.0, gt=0, description="A send claimed but never finished is retried after this")
    contact_wait_s: float = Field(
        default=600.0, ge=0, description="How long a notice waits for its recipient's contact to be known"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="How often the retry loop looks for due sends")

    # -- sweeps
    overdue_sweep_s: float = Field(default=60.0, gt=0)
    digest_interval_s: float = Field(default=3600.0, gt=0, description="Area watches sent as a digest: how often")

    # -- webhooks for integrators (channels/webhook/) and the mobile push adapter (channels/push/)
    webhooks_group: str = "notify-webhooks"
    # Safe by default: a local receiver (tests, a laptop) needs both opted out explicitly.
    webhook_https_only: bool = Field(default=True, description="Refuse http:// endpoint URLs")
    webhook_allow_private: bool = Field(
        default=False,
        description="Let endpoints reach loopback, private, link-local and other non-public addresses (tests only)",
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="One attempt, connect to answer")
    webhook_concurrency: int = Field(default=16, ge=1, description="Attempts in flight at once")
    webhook_store_concurrency: int = Field(
        default=1, ge=1, description="Delivery-log writes at once: 1 suits FerretDB's SQLite; raise it on MongoDB"
    )
    webhook_poll_s: float = Field(default=1.0, gt=0, description="How often the loop looks for due deliveries")
    webhook_backoff_base_s: float = Field(default=5.0, gt=0, description="First retry delay; doubles each time")
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)
    webhook_backoff_jitter_s: float = Field(default=5.0, ge=0, description="Up to this much is added at random")
    webhook_max_attempts: int = Field(default=20, ge=1, description="Then the delivery has failed for good")
    webhook_disable_after_failures: int = Field(default=100, ge=1, description="Consecutive failed attempts")
    webhook_disable_after_s: float = Field(default=24 * 3600.0, gt=0, description="Every attempt failing this long")
    push_transport: Literal["none", "relay", "providers"] = Field(
        default="none", description="relay: signed webhook posts to push_relay_url (tests, local); providers: FCM/APNs"
    )
    # Per platform, overriding push_transport (unset: relay -> relay, providers -> fcm/apns, none -> none).
    push_fcm: Literal["none", "relay", "fcm"] | None = Field(default=None, description="Sender of fcm devices")
    push_apns: Literal["none", "relay", "apns"] | None = Field(default=None, description="Sender of apns devices")
    push_timeout_s: float = Field(
        default=10.0, gt=0, description="One FCM/APNs send (or token refresh), start to answer"
    )
    push_relay_url: str | None = None
    push_relay_secret: str = Field(default=DEV_PUSH_RELAY_SECRET, pattern=r"^whsec_[A-Za-z0-9+/=]{32,}$")
    # -- FCM HTTP v1: a Firebase service account's JSON key, as a file (preferred) or the variable's value
    fcm_service_account_file: str | None = None
    fcm_service_account_json: SecretStr | None = None
    fcm_project_id: str | None = Field(default=None, description="Default: the service account's project_id")
    fcm_base_url: str = Field(default="https://fcm.googleapis.com", description="Changed only for a local fake")
    # -- APNs: a token signing key (.p8) of the Apple developer team, as a file (preferred) or the value
    apns_key_file: str | None = None
    apns_key: SecretStr | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    apns_topic: str = Field(default="dev.snapfix.app", description="The iOS app's bundle id (apns-topic)")
    apns_use_sandbox: bool = Field(default=False, description="api.development.push.apple.com (debug app builds)")
    apns_server: str | None = Field(default=None, description="host:port instead of Apple's (a local fake)")
    apns_ca_file: str | None = Field(default=None, description="CA bundle trusted for apns_server")

    def push_sender(self, platform: Literal["fcm", "apns"]) -> Literal["none", "relay", "fcm", "apns"]:
        """Who sends to this platform's devices: its own setting, else what push_transport implies."""
        chosen = self.push_fcm if platform == "fcm" else self.push_apns
        if chosen is not None:
            return chosen
        return platform if self.push_transport == "providers" else self.push_transport

    @field_validator("web_base_url", mode="before")
    @classmethod
    def _none_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("unsubscribe_secret", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # An empty variable means unset: the development secret (logged; refused in production).
        return DEV_UNSUBSCRIBE_SECRET if value in ("", None) else value

    @field_validator("unsubscribe_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("SNAPFIX_UNSUBSCRIBE_SECRET must be at least 32 characters")
        return value

    @field_validator("push_fcm", "push_apns", "fcm_service_account_file", "apns_key_file", "apns_server", mode="before")
    @classmethod
    def _unset_when_blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _provider_credentials(self) -> Self:
        # Refused at start, naming the variables (never their values).
        if self.push_sender("fcm") == "fcm" and not (self.fcm_service_account_file or self.fcm_service_account_json):
            raise ValueError("FCM push needs SNAPFIX_FCM_SERVICE_ACCOUNT_FILE (or SNAPFIX_FCM_SERVICE_ACCOUNT_JSON)")
        if self.push_sender("apns") == "apns":
            missing = [
                name
                for name, value in (
                    ("SNAPFIX_APNS_KEY_FILE (or SNAPFIX_APNS_KEY)", self.apns_key_file or self.apns_key),
                    ("SNAPFIX_APNS_KEY_ID", self.apns_key_id),
                    ("SNAPFIX_APNS_TEAM_ID", self.apns_team_id),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"APNs push needs {', '.join(missing)}")
        if self.apns_server is not None:
            host, _, port = self.apns_server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("SNAPFIX_APNS_SERVER is host:port")
        return self

    @model_validator(mode="after")
    def _own_relay_secret_in_production(self) -> Self:
        # Only a relay in use needs its secret (ProcessSettings checks the SecretStr ones always).
        in_use = self.environment == "production" and "relay" in (self.push_sender("fcm"), self.push_sender("apns"))
        if in_use and self.push_relay_secret == DEV_PUSH_RELAY_SECRET:
            raise DevelopmentSecretInProduction(
                "SNAPFIX_ENVIRONMENT=production with SNAPFIX_PUSH_TRANSPORT=relay, but SNAPFIX_PUSH_RELAY_SECRET "
                "is the development secret: set the relay's own (whsec_ and 32+ base64 characters)"
            )
        return self
