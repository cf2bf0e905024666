"""Redis wiring: one pooled client per process with short timeouts on every call.

``SNAPFIX_REDIS_CLUSTER=true`` makes it a Redis Cluster client (``redis_url`` is one seed
node; the others are discovered); ``rediss://`` URLs are TLS, verified against
``SNAPFIX_REDIS_SSL_CA_FILE`` when set (else the system's trusted CAs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, SlotNotCoveredError
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


Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    """A Lua script whose calls made in the same turn of the event loop go to Redis in one pipeline.

    Called as redis-py's script is (``await script(keys=..., args=...)``), each caller gets its
    own reply, or its own error: the pipeline's (every caller of the batch gets it, as each
    would have from its own call: Redis down, every connection busy) or its command's. Calls
    that arrive one at a time go alone, a turn later. Under load many requests call at once
    (every keyed request claims its key): a call on its own costs a socket write and a read in
    this process and in Redis, which shared by a batch cost once.

    A script Redis does not hold (restarted, flushed) is loaded and only the calls it refused
    are sent again. On Redis Cluster every call goes alone, as redis-py sends it.
    """

    def __init__(self, redis: Redis, script: str) -> None:
        self.redis = redis
        self.script = redis.register_script(script)
        self.alone = isinstance(redis, RedisCluster)
        self._batch: list[Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, *, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self.alone:
            return await self.script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._batch:
            loop.call_soon(self._send)
        self._batch.append((keys, args, future))
        return await future

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        task = asyncio.create_task(self._answer(batch), name="redis-script-batch")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _answer(self, batch: list[Call]) -> None:
        try:
            replies = await self._replies(batch)
        except BaseException as exc:  # the batch's error is each caller's, cancellation included
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller is gone
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _replies(self, batch: list[Call]) -> list[Any]:
        replies = await self._pipeline(batch)
        refused = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if refused:  # nothing ran for these: load the script, then send them again
            await self.redis.script_load(self.script.script)
            again = await self._pipeline([batch[index] for index in refused])
            for index, reply in zip(refused, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self.script.sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)
