"""Settings of the notify service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import HttpSettings, KafkaSettings, MongoSettings, RedisSettings


class NotifySettings(HttpSettings, KafkaSettings, MongoSettings, RedisSettings):
    http_port: int = 8003
    mongo_database: str = "snapfix_notify"
