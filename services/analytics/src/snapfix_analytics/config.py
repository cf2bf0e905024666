"""Settings of the analytics service (``SNAPFIX_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings

# Only for a laptop: `make run` and the tests. A deployment sets SNAPFIX_PSEUDONYM_SECRET
# (at least 32 random bytes); the service logs a warning when this default is in use.
DEV_PSEUDONYM_SECRET = "snapfix-local-pseudonym-secret-change-me-0123456789"  # noqa: S105


class AnalyticsSettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8004
    mongo_database: str = "snapfix_analytics"
    # issues.events.v1: a group of its own (a new group with a new database replays from the start)
    consumer_group: str = "analytics-issues"
    # Large batches: the cells a batch touches grow slower than its events (one update or insert each;
    # an update costs the store 10-20 times an insert). A batch takes its records a few partitions at
    # a time, each spanning its whole backlog: in bench/analytics.py 10,000 records give 0.06 updates
    # of existing cells per event against 0.36 at 2,000. A live stream's batches stay small (50 ms).
    batch_records: int = Field(default=10_000, ge=1, description="Records per batch")
    allowed_lateness_s: int = Field(
        default=600, ge=0, description="How far behind the newest event time of its partition an event may be"
    )
    pseudonym_secret: SecretStr = SecretStr(DEV_PSEUDONYM_SECRET)
    query_cache_ttl_s: int = Field(default=60, ge=1, description="Cached answers also die with every applied batch")
    max_query_windows: int = Field(default=200_000, ge=1, description="Windows one query may read")

    @field_validator("pseudonym_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("SNAPFIX_PSEUDONYM_SECRET must be at least 32 characters")
        return value
