"""Settings of the media service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings


class MediaSettings(ProcessSettings, MongoSettings, RedisSettings):
    http_port: int = 8002
    mongo_database: str = "snapfix_media"
