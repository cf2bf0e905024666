"""Settings of the notify service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings


class NotifySettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8003
    mongo_database: str = "snapfix_notify"
