"""Settings of the analytics service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings


class AnalyticsSettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8004
    mongo_database: str = "snapfix_analytics"
