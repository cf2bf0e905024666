"""Redis wiring: one pooled client per process with short timeouts on every call."""

from __future__ import annotations

from redis.asyncio import Redis

from snapfix_shared.settings import RedisSettings


def redis_client(settings: RedisSettings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )
