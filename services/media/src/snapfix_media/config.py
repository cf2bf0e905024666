"""Settings of the media service (``SNAPFIX_*`` environment variables)."""

from snapfix_shared.settings import HttpSettings, KafkaSettings, MongoSettings, RedisSettings


class MediaSettings(HttpSettings, KafkaSettings, MongoSettings, RedisSettings):
    http_port: int = 8002
    mongo_database: str = "snapfix_media"
