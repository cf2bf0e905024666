"""Circuit breakers around what a process depends on: Mongo, Redis and the other services' HTTP APIs.

After ``threshold`` consecutive failures of one dependency its circuit opens: calls fail at
once (a 503 with ``Retry-After`` for an HTTP client) instead of each waiting out a timeout,
and after ``ttl_s`` one trial call is let through to see whether it is back. The state
machine is purgatory's; this module only says which errors count as "the dependency is down"
(a duplicate key or a 404 never opens a circuit) and exports the state as metrics.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from prometheus_client import Counter, Gauge
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError, WaitQueueTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_shared.problems import ServiceUnavailable, problem_response

log = logging.getLogger(__name__)

BREAKER_OPEN = Gauge("snapfix_circuit_open", "1 while the circuit to a dependency is open", ["service", "dependency"])
BREAKER_REJECTED = Counter(
    "snapfix_circuit_rejected_total", "Calls refused at once because the circuit was open", ["service", "dependency"]
)

# ServerSelectionTimeoutError, AutoReconnect and NetworkTimeout all derive from ConnectionFailure.
MONGO_DOWN: tuple[type[BaseException], ...] = (ConnectionFailure, ServerSelectionTimeoutError, WaitQueueTimeoutError)
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
HTTP_DOWN: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)


class CircuitOpen(ServiceUnavailable):
    """The dependency failed repeatedly just now; it is not even tried until the circuit half-opens."""

    def __init__(self, dependency: str, retry_after_s: int) -> None:
        super().__init__(f"The {dependency} dependency is unavailable; try again shortly.", retry_after_s=retry_after_s)
        self.dependency = dependency


class Breakers:
    """One circuit per dependency name, for one process."""

    def __init__(self, service: str, *, threshold: int = 5, ttl_s: float = 10.0) -> None:
        self.service, self.ttl_s = service, ttl_s
        self._factory = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=ttl_s)
        self._factory.add_listener(self._on_event)

    def _on_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            state = getattr(event, "state", "")
            BREAKER_OPEN.labels(self.service, name).set(1 if state == "opened" else 0)
            log.warning("circuit %s is %s", name, state)

    @asynccontextmanager
    async def guard(
        self, dependency: str, counts: tuple[type[BaseException], ...] | Callable[[BaseException], bool]
    ) -> AsyncIterator[None]:
        """Run the block through the circuit of ``dependency``; only errors that ``counts`` accepts open it.

        An open circuit raises ``CircuitOpen`` (a 503 problem) without running the block.
        """
        is_failure = counts if callable(counts) and not isinstance(counts, tuple) else _instance_of(counts)
        breaker = await self._factory.get_breaker(dependency, exclude=[(BaseException, _not(is_failure))])
        try:
            async with breaker:
                yield
        except OpenedState as exc:
            BREAKER_REJECTED.labels(self.service, dependency).inc()
            opened_at = breaker.context.opened_at or time.time()
            remaining = max(1, math.ceil(opened_at + self.ttl_s - time.time()))
            raise CircuitOpen(dependency, remaining) from exc

    def is_open(self, dependency: str) -> bool:
        """Whether calls to ``dependency`` are being refused right now (without making one)."""
        # purgatory keeps the contexts of the in-memory unit of work in a plain dict.
        contexts = getattr(getattr(self._factory.uow, "contexts", None), "breakers", {})
        context = contexts.get(dependency)
        if context is None or context.state != "opened":
            return False
        return (context.opened_at or 0) + self.ttl_s > time.time()


def _instance_of(types: tuple[type[BaseException], ...]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, types)


def _not(predicate: Callable[[BaseException], bool]) -> Callable[[BaseException], bool]:
    return lambda exc: not predicate(exc)


HEALTH_PATHS = frozenset({"/livez", "/readyz", "/metrics"})


class MongoCircuitMiddleware:
    """Puts the HTTP requests that need the database behind the ``mongo`` circuit.

    A request that finds the database down (or its circuit open) gets a 503 problem with
    ``Retry-After`` instead of a 500 after a long wait. Health and metrics paths are never
    guarded: a probe must report the truth, not the circuit's memory of it.
    """

    def __init__(self, app: ASGIApp, *, breakers: Breakers, applies: Callable[[str], bool]) -> None:
        self.app, self.breakers, self.applies = app, breakers, applies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS or not self.applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with self.breakers.guard("mongo", MONGO_DOWN):
                await self.app(scope, receive, tracking_send)
        except CircuitOpen as exc:
            if started:
                raise
            await _problem(exc)(scope, receive, send)
        except MONGO_DOWN as exc:
            if started:
                raise
            log.warning("database unavailable for %s: %r", scope["path"], exc)
            unavailable = ServiceUnavailable("The database is unavailable; try again shortly.", retry_after_s=5)
            await _problem(unavailable)(scope, receive, send)


def _problem(exc: ServiceUnavailable) -> ASGIApp:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(Request(scope), exc.status, exc.title, exc.detail, headers=exc.headers)
        await response(scope, receive, send)

    return respond
