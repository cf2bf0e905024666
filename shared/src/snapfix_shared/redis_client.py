"""Redis wiring: one pooled client per process with short timeouts on every call.

``SNAPFIX_REDIS_CLUSTER=true`` makes it a Redis Cluster client (``redis_url`` is one seed
node; the others are discovered); ``rediss://`` URLs are TLS, verified against
``SNAPFIX_REDIS_SSL_CA_FILE`` when set (else the system's trusted CAs).
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from snapfix_shared.settings import RedisSettings


class _ClusterClient(RedisCluster):
    """A RedisCluster that reports an unreachable cluster as a ConnectionError.

    redis-py raises ``RedisClusterException`` (not a ``RedisError``) when no seed node
    answers; every caller degrades on ``RedisError`` / ``REDIS_DOWN``, as with one node.
    Other cluster exceptions (a cross-slot call: a bug) are left as they are.
    """

    async def initialize(self, *args: Any, **kwargs: Any) -> RedisCluster:
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise _as_connection_error(exc) from exc

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise _as_connection_error(exc) from exc


def _as_connection_error(exc: RedisClusterException) -> Exception:
    unreachable = isinstance(exc, SlotNotCoveredError) or isinstance(
        exc.__cause__, RedisConnectionError | RedisTimeoutError | OSError
    )
    return RedisConnectionError(str(exc)) if unreachable else exc


class RedisBusy(RedisError):
    """Every connection of the process's bounded pool stayed busy for ``redis_timeout_s``.

    Overload, not an outage: not one of ``breakers.REDIS_DOWN``, so it never opens the
    Redis circuit (which would put the whole process in its degraded mode for a while).
    """


class _WaitingPool(BlockingConnectionPool):
    """A bounded pool whose "none free in time" is ``RedisBusy`` rather than a ConnectionError."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise RedisBusy(f"all {self.max_connections} Redis connections busy") from exc
            raise


def redis_options(settings: RedisSettings, *, socket_timeout: float | None = None) -> dict[str, Any]:
    """The connection options for either client kind (TLS only where the URL asks for it)."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout or settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "health_check_interval": 30,
        "decode_responses": False,
    }
    # A plain connection refuses TLS arguments: the CA goes only with a rediss:// URL.
    if settings.redis_ssl_ca_file and settings.redis_url.startswith("rediss://"):
        options["ssl_ca_certs"] = settings.redis_ssl_ca_file
    return options


def redis_client(settings: RedisSettings, *, socket_timeout: float | None = None) -> Redis:
    """The process's Redis client; ``socket_timeout`` overrides the read timeout (blocking reads)."""
    options = redis_options(settings, socket_timeout=socket_timeout)
    if settings.redis_cluster:
        # No bound here: redis-py's cluster client fails a call at once when a node's connections
        # are all busy (it cannot wait for one), which would turn a burst into errors.
        # RedisCluster has the command API the callers use (commands, pipeline, scripts,
        # ping, aclose), routing each key to its slot's node; callers are typed against Redis.
        return cast("Redis", _ClusterClient.from_url(settings.redis_url, **options))
    # A pooled connection that Redis closed while it sat idle (a restart, a failover, an idle
    # timeout) fails the one call that finds it: that call is sent once more on a new
    # connection. Only on a closed connection: a Redis that does not answer in time is not
    # asked twice. A pool built outside ``Redis()`` gets no retry from redis-py at all.
    options["retry"] = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    if settings.redis_max_connections:
        pool = _WaitingPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_timeout_s,
            **options,
        )
        return Redis.from_pool(pool)
    return Redis.from_url(settings.redis_url, **options)
