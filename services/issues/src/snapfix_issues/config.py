"""Settings of the issues service (``SNAPFIX_*`` environment variables)."""

from pydantic import Field

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings


class IssuesSettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8001
    mongo_database: str = "snapfix_issues"
    consumer_group: str = "issues"
    # users.events.v1 (UserDeleted: erasure.py): a group of its own
    issues_users_group: str = "issues-users"
    # One batch is committed with one offset commit; its reports are stored in concurrent
    # chunks (consumers.REPORT_CHUNK), so a larger batch keeps the store busier.
    batch_max_records: int = Field(default=1000, ge=1)
    batch_timeout_ms: int = Field(default=50, ge=1)
    # How stale the in-memory catalogue may be after an admin's edit on another instance.
    catalogue_refresh_s: float = Field(default=30.0, gt=0)
    # The media service, asked whether a report's photos exist and belong to its reporter.
    media_url: str = "http://127.0.0.1:8002"
    upstream_timeout_s: float = Field(default=2.0, gt=0)
    # How often the read model's presence in Redis is checked (it is rebuilt when missing).
    readmodel_check_s: float = Field(default=10.0, gt=0)
    # Commands whose actor the gateway's proof does not vouch for are dead-lettered. False only
    # while upgrading from gateways that did not sign commands (they are then applied, and logged).
    require_actor_proof: bool = True
    # How long an anonymous visitor's view of an issue may be reused by shared caches (the
    # gateway's edge cache, nginx, a CDN): ``Cache-Control: public, max-age``. 0: never shared.
    public_detail_max_age_s: int = Field(default=5, ge=0, le=300)
