"""One composition root per process: clients built without I/O, opened and closed in the lifespan.

A service (or the gateway) makes one ``Runtime`` from its settings, registers its
subscribers on ``runtime.broker`` and its routes on the app from ``runtime.app()``.

The stop is bounded (``STOP_BUDGET_S``, after uvicorn's grace for HTTP requests): retries
still waiting are abandoned at once (``consuming.ShuttingDown``), the shutdown hooks cut
what is in flight (sends leave their leases to lapse), in-flight handlers get
``kafka.STOP_GRACE_S`` and are then cancelled. Nothing abandoned is committed: its records
come back to the partition's next owner, and every handler is idempotent.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import ConsumerRecord
from beanie import Document
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from snapfix_shared import tally, telemetry, viewer
from snapfix_shared.breakers import Breakers, MongoCircuitMiddleware
from snapfix_shared.consuming import bind_stopping
from snapfix_shared.health import Check, health_router
from snapfix_shared.http_metrics import HttpMetricsMiddleware
from snapfix_shared.kafka import create_broker, dead_letter
from snapfix_shared.logs import configure_logging
from snapfix_shared.mongo import init_documents, mongo_client, ping
from snapfix_shared.problems import install_problem_handlers
from snapfix_shared.redis_client import redis_client
from snapfix_shared.settings import MongoSettings, ProcessSettings, RedisSettings
from snapfix_shared.tasks import Flusher

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
# The lifespan's whole stop: hooks, consumers (kafka.STOP_GRACE_S of it), clients. After
# uvicorn's grace for open requests (SNAPFIX_SHUTDOWN_GRACE_S, 10 s) the process is gone
# within 20 s of SIGTERM; past the budget what is left is cut, uncommitted.
STOP_BUDGET_S = 8.0


def freeze_startup_objects(young_threshold: int) -> tuple[int, int, int]:
    """Move what startup built (modules, the app, its routes and models, clients) out of the cyclic
    garbage collector's sight, so that a full collection walks only what requests create: its
    pauses were the accept path's p99 (bench: 21-52 ms at 200-300 req/s without, 6-9 ms with)
    and about a tenth of its CPU at peak. Startup's garbage is collected first. The lifespan
    thaws it at its end, so an app built and dropped in a longer-lived process (tests) can still
    have its cycles collected.

    The youngest generation is then collected every ``young_threshold`` allocations instead of
    every 700 (``ProcessSettings.gc_young_threshold``); the thresholds it had are returned, for
    the lifespan to put back at its end."""
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(young_threshold, *before[1:])
    return before


class Runtime:
    def __init__(
        self,
        name: str,
        settings: ProcessSettings,
        *,
        mongo_database: str | None = None,
        documents: Sequence[type[Document]] = (),
    ) -> None:
        configure_logging(name, settings.log_level)
        self.name = name
        self.settings = settings
        self.tracer_provider = telemetry.setup_tracing(name)
        self.source = f"/snapfix/{name}"
        self.breakers = Breakers(name, threshold=settings.breaker_threshold, ttl_s=settings.breaker_ttl_s)
        # The viewer's proof between processes: minted for calls out, verified on calls in.
        self.internal_tokens = viewer.from_settings(settings, issuer=name)
        viewer.use(self.internal_tokens)
        # Run once the store is set up and before any consumer starts (e.g. a data migration).
        self.before_start: list[Hook] = []
        self.on_startup: list[Hook] = []
        self.on_shutdown: list[Hook] = []
        # Run after the consumers stopped: for clients their in-flight handlers still use.
        self.after_stop: list[Hook] = []
        # Readiness checks of the process's own, beside its clients' (for example a copy loaded at start).
        self.readiness: dict[str, Check] = {}
        # Set when the process starts to stop: retries still waiting give up (uncommitted).
        self.stopping = asyncio.Event()
        # Hot-path counters (``tally``) added to Prometheus's while the app runs, and at its stop.
        self._tallies = Flusher(tally.FLUSH_EVERY_S, tally.flush_all_async, name="metrics tallies")

        self.broker: KafkaBroker = create_broker(
            settings, client_id=f"snapfix-{name}", tracer_provider=self.tracer_provider
        )
        # A little longer than the producer's own request timeout, so the producer
        # reports its failure before this deadline cuts it short.
        self.publish_timeout_s: float = settings.kafka_request_timeout_ms / 1000 + 1.0

        self.mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self.mongo_database: str | None = mongo_database
        self.documents: list[type[Document]] = list(documents)
        if mongo_database is not None:
            assert isinstance(settings, MongoSettings)
            self.mongo = mongo_client(settings, app_name=f"snapfix-{name}")

        self.redis: Redis | None = None
        if isinstance(settings, RedisSettings):
            self.redis = redis_client(settings)

    async def dead_letter(self, record: ConsumerRecord[Any, Any], *, group: str, reason: str, error: str) -> None:
        """Send a poison record of ``group`` to its topic's DLQ (acks=all), with the error in headers."""
        await dead_letter(
            self.broker, record, group=group, reason=reason, error=error, timeout_s=self.publish_timeout_s
        )

    def checks(self) -> dict[str, Check]:
        checks: dict[str, Check] = {}

        async def kafka() -> None:
            if not await self.broker.ping(timeout=1.5):
                raise ConnectionError("kafka did not answer")

        checks["kafka"] = kafka
        if self.mongo is not None:
            mongo = self.mongo
            checks["mongo"] = lambda: ping(mongo)
        if self.redis is not None:
            checks["redis"] = self.redis.ping
        return checks | self.readiness

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        if self.mongo is not None and self.mongo_database is not None:
            await init_documents(self.mongo, self.mongo_database, self.documents)
        for hook in self.before_start:
            await hook()
        self.stopping = asyncio.Event()
        bind_stopping(self.stopping)  # the consumers and background tasks started below see it
        await self.broker.start()
        for hook in self.on_startup:
            await hook()
        await self._tallies.start()
        thresholds = freeze_startup_objects(self.settings.gc_young_threshold)
        log.info("%s started", self.name)
        try:
            yield
        finally:
            log.info("%s stopping", self.name)
            self.stopping.set()
            try:
                async with asyncio.timeout(STOP_BUDGET_S):
                    await self._stop()
            except TimeoutError:
                log.error("%s did not stop within %.0f s: the rest was cut, uncommitted", self.name, STOP_BUDGET_S)
            await self._tallies.stop()
            telemetry.flush()
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    async def _stop(self) -> None:
        for hook in self.on_shutdown:
            await hook()
        # Stops consumers (in-flight handlers get kafka.STOP_GRACE_S to finish and commit, then
        # are cancelled, uncommitted) and flushes the producer.
        await self.broker.stop()
        for hook in self.after_stop:
            await hook()
        if self.redis is not None:
            await self.redis.aclose()
        if self.mongo is not None:
            await self.mongo.close()

    def app(
        self, *, title: str, description: str = "", needs_mongo: Callable[[str], bool] = lambda _path: True
    ) -> FastAPI:
        """The process's FastAPI app: problems, health, metrics, tracing, and the Mongo circuit
        around the requests whose path ``needs_mongo`` (every one, for a service)."""
        app = FastAPI(
            title=title,
            description=description,
            version="0.1.0",
            lifespan=self.lifespan,
            # Traced by OpenTelemetry's instrumentation (``telemetry.instrument_app``): FastAPI's own
            # layer would only look, on every request, whether it has anything to do.
            telemetry={"tracing": False, "metrics": False, "logs": False},
        )
        app.state.internal_tokens = self.internal_tokens
        install_problem_handlers(app)
        app.include_router(health_router(self.checks()))
        if self.mongo is not None:
            app.add_middleware(MongoCircuitMiddleware, breakers=self.breakers, applies=needs_mongo)
        app.add_middleware(HttpMetricsMiddleware, service=self.name)
        telemetry.instrument_app(app, self.tracer_provider)
        return app
