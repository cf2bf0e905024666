"""Settings of the gateway (``SNAPFIX_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from snapfix_gateway.web import csp_source
from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkSealKey
from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings

# Only for a laptop: `make run` and the tests. A deployment sets SNAPFIX_JWT_SECRET
# (at least 32 random bytes); the gateway logs a warning when this default is in use.
DEV_JWT_SECRET = "snapfix-local-development-secret-change-me-0123456789"  # noqa: S105


def _repo_web_dist() -> Path | None:
    """The repository's built web app (``web/dist``, from ``npm run build``), when there is one."""
    dist = Path(__file__).resolve().parents[3] / "web" / "dist"
    return dist if (dist / "index.html").is_file() else None


class GatewaySettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8000
    # The process's Redis connections stay bounded (DESIGN §4: ≤ 20 with 10,000 live streams): a burst
    # of requests waits for one of these rather than opening more.
    redis_max_connections: int | None = Field(default=12, ge=1)
    mongo_database: str = "snapfix_gateway"
    issues_url: str = "http://127.0.0.1:8001"
    media_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8003"
    analytics_url: str = "http://127.0.0.1:8004"
    # The URL clients use to reach this API (for links sent by e-mail).
    public_base_url: str = "http://127.0.0.1:8000"
    # The web app's URL, when there is one: a person following an e-mailed password-reset or
    # verification link is sent there (``/password-reset?token=…``, ``/verify-email?token=…``);
    # without it, the gateway answers a small page of its own.
    web_base_url: str | None = None
    # Seals the e-mailed links on users.events.v1 (snapfix_shared.sealing); notify holds the same key(s).
    link_seal_key: LinkSealKey = SecretStr(DEV_LINK_SEAL_KEY)
    # While Redis (the sessions) is down: "token" serves signed-in users on their access
    # token's own claims (revocation then lags by at most the token's lifetime); "closed"
    # answers 503 instead.
    sessions_when_redis_down: Literal["token", "closed"] = "token"
    # Access tokens are trusted on their signature while the revocation feed (revocations.py)
    # has read Redis's revocations up to this long ago; past it, each request asks Redis.
    revocation_max_lag_s: float = Field(default=1.0, gt=0, le=5)
    # When the issues service cannot check a command (it or its database is down), accept
    # it unchecked: its consumer checks it after recovery (and dead-letters a refusal).
    defer_checks_when_owner_down: bool = True
    # Reads routed to the owning service give up after this long (then 503).
    upstream_timeout_s: float = Field(default=2.0, gt=0)
    # Allowance for clock skew between the gateway and the brokers, added to a
    # command's accept_by so that a command acknowledged in time is never refused.
    clock_skew_allowance_s: float = Field(default=1.0, ge=0)

    # -- identity (RFC 8725: one pinned algorithm, iss/aud/exp/iat required)
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "https://snapfix.local"
    jwt_audience: str = "snapfix-api"
    access_token_ttl_s: int = Field(default=900, ge=30)
    # A session ends after refresh_token_ttl_s without a refresh (idle), and session_max_age_s
    # after its sign-in however often it is refreshed (absolute): then the user signs in again.
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    session_max_age_s: int = Field(default=30 * 24 * 3600, ge=60, description="A session's absolute lifetime")
    refresh_reuse_grace_s: float = Field(
        default=30.0,
        ge=0,
        le=120,
        description="How long a refresh token stays usable once more after it was rotated, so a client whose "
        "answer was lost can retry (0: never; then any second use revokes the session)",
    )
    password_reset_ttl_s: int = Field(default=3600, ge=60, description="How long a password-reset link works")
    min_password_score: int = Field(default=3, ge=0, le=4, description="zxcvbn score a password must reach")
    # Citizens must verify their e-mail address (the link sent at registration) before reporting
    # (POST /v1/issues) and uploading photos (POST /v1/media); staff are exempt. Unset: on with
    # SNAPFIX_ENVIRONMENT=production, off in development (`make run`, the tests). verified_email_required
    # is the answer.
    require_verified_email: bool | None = None
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    # Concurrent Argon2 computations (each takes tens of ms and ~64 MiB).
    password_hash_concurrency: int = Field(default=4, ge=1)

    # -- limits (the `limits` library's notation)
    rate_limit_user: str = "100/minute"
    rate_limit_anonymous: str = "60/minute"
    rate_limit_token: str = "10/minute"  # noqa: S105 - a rate, not a secret
    rate_limit_export: str = "5/hour"  # GET /v1/me/export per user: it reads from every service
    # Requests without an Idempotency-Key are counted in this process and added to Redis's counts
    # in one pipeline this often (ms): no Redis round trip per request. The answers to requests
    # with a key are written on the same interval (their one round trip is the key's claim).
    # 0: every request asks Redis, and every answer is written as it is sent.
    rate_limit_settle_ms: int = Field(default=100, ge=0)

    # -- the web app (web/): its built files, served at / next to the API (web.py). An empty
    # SNAPFIX_WEB_DIST turns it off; unset, the repository's web/dist when it is built.
    web_dist: Path | None = Field(default_factory=_repo_web_dist, description="The built web app (index.html, assets/)")
    # What the app's map shows (GET /config.json): a raster tile URL template (Leaflet draws the
    # map: ``https://tile.example/{z}/{x}/{y}.png``), with the attribution its licence asks for.
    # Its host is added to the page's Content-Security-Policy. Unset: the map has no background.
    web_tile_url: str | None = None
    web_tile_attribution: str | None = None
    web_default_lat: float = Field(default=12.9716, ge=-90, le=90, description="Where the map opens (Bengaluru)")
    web_default_lon: float = Field(default=77.5946, ge=-180, le=180)
    web_default_zoom: int = Field(default=12, ge=0, le=22)

    @property
    def verified_email_required(self) -> bool:
        """SNAPFIX_REQUIRE_VERIFIED_EMAIL when set, else whether this is production."""
        if self.require_verified_email is None:
            return self.environment == "production"
        return self.require_verified_email

    @field_validator("web_dist", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("web_dist")
    @classmethod
    def _built(cls, value: Path | None) -> Path | None:
        if value is not None and not (value / "index.html").is_file():
            raise ValueError(
                f"SNAPFIX_WEB_DIST={value} holds no index.html: build the app (cd web && npm ci && npm run build) "
                "or set SNAPFIX_WEB_DIST to an empty value"
            )
        return value

    @field_validator("web_tile_url", mode="before")
    @classmethod
    def _map_url(cls, value: object) -> object:
        if value == "":
            return None
        if isinstance(value, str):
            csp_source(value)  # raises ValueError for what a Content-Security-Policy cannot name
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("SNAPFIX_JWT_SECRET must be at least 32 characters (RFC 7518 §3.2: a 256-bit key)")
        return value

    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)
    # Request bodies other than a photo's (max_upload_bytes): a report, the largest, stays under
    # 100 kB even with every character escaped. Past this, 413 before the body is read on
    # (body_limit.py): the Idempotency-Key fingerprint and the routes never hold more.
    max_body_bytes: int = Field(default=256 * 1024, ge=4096)
    # Anonymous reads of an issue that its owner marked public (``Cache-Control: public, max-age``)
    # are kept in this process for that max-age and served from memory (``edge_cache``). 0: off.
    edge_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # A report goes through the app's middleware straight to its route, without the router (and,
    # when its trace is not sampled, the tracing middleware: ``accept_lane``). Off: the whole stack.
    accept_lane: bool = True
    # Each request publishes its own command: waiting up to 10 ms for others puts those of every
    # partition in one produce request (``snapfix_shared.publish_window``). Each window costs
    # the gateway and the broker on their core about 0.4 ms whatever it carries; 10 ms (Kafka 4.0's
    # default linger is 5) halves their number, for less CPU per report at every rate and no worse
    # a tail at half the peak (docs/operations.md, "Scale"). 0: each goes at once.
    kafka_linger_ms: int = Field(default=10, ge=0, le=1000)
    # In the lane, a plain report (valid JSON from a signed-in user, with a valid Idempotency-Key or
    # none) is answered without FastAPI's request machinery (``accept_direct``). Off: every lane
    # report crosses the stack.
    accept_direct: bool = True

    # -- live updates (GET /v1/events)
    live_updates: bool = Field(default=True, description="Consume issues.events.v1 into users' live streams")
    live_block_s: float = Field(default=10.0, gt=0, description="How long one feed read waits for news")
    live_streams_per_user: int = Field(default=5, ge=1, description="Streams one user may hold open in one process")
    live_max_streams: int = Field(default=20_000, ge=1, description="Streams one process holds; past it, 503")
    live_redis_connections: int = Field(
        default=4, ge=1, le=16, description="Calls of the live path (catch-ups, checks) at once on the process's pool"
    )
    live_heartbeat_s: float = Field(default=15.0, gt=0, description="A comment line this often on a quiet stream")
    live_session_check_s: float = Field(default=30.0, gt=0, description="Open streams end this soon after sign-out")

    # -- photos (/v1/media): bytes are streamed to the media service, capped on the way
    max_upload_bytes: int = Field(default=15 * 1024 * 1024, ge=1)
    upload_timeout_s: float = Field(default=120.0, gt=0, description="One upload, start to finish")

    # -- Open311 GeoReport v2 discovery (/open311/v2/discovery.{xml,json})
    open311_contact: str = "The city's SnapFix administrators"
    open311_key_service: str = "Ask the city's SnapFix administrators for an API key (POST /v1/admin/api-keys)"
