"""Settings of the analytics service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import HttpSettings, KafkaSettings, MongoSettings, RedisSettings


class AnalyticsSettings(HttpSettings, KafkaSettings, MongoSettings, RedisSettings):
    http_port: int = 8004
    mongo_database: str = "snapfix_analytics"
