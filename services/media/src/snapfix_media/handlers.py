"""Subscriber of ``media.commands.v1``: process a stored original, store its variants, announce.

Idempotent on the media id: a redelivered ``ProcessMedia`` whose photo was already
processed (or rejected, or failed) re-publishes the event stored the first time and does
nothing else. A command that cannot be parsed, or names a photo that was never uploaded,
goes to the dead-letter topic; transient store failures are retried, then the record is
left uncommitted and comes back.

A photo whose processing is dead-lettered (an unexpected error, or its original is gone)
does not stay ``pending``: it ends ``failed`` with a reason a person can read, any variants
already written are removed, and ``MediaRejected`` is published, so the issues service and
the client learn it. The outcome is stored with the photo first, so a redelivery announces
the very same event again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, get_args
from uuid import UUID

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate
from pymongo.errors import ConnectionFailure

from snapfix_media.config import MediaSettings
from snapfix_media.models import Media
from snapfix_media.pipeline import Processed
from snapfix_media.repository import MediaRepository
from snapfix_media.storage import STORE_UNAVAILABLE, BlobStore, original_key, variant_key
from snapfix_media.workers import ImageWorkers
from snapfix_shared.consuming import ShuttingDown, raw_body, record_message, retry_transient
from snapfix_shared.kafka import PublishFailed, accepted_too_late, header_map, publish
from snapfix_shared.messages import (
    MEDIA_COMMANDS,
    MEDIA_EVENTS,
    MediaEvent,
    MediaProcessed,
    MediaRejected,
    MediaVariant,
    ProcessMedia,
)
from snapfix_shared.messages.media import VariantName
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
Record = ConsumerRecord[Any, Any]
P = ParamSpec("P")
T = TypeVar("T")
# Failures worth waiting out: the store or the broker is unreachable for a while.
TRANSIENT = (ConnectionFailure, PublishFailed, *STORE_UNAVAILABLE)
FAILED_REASON = "The photo could not be processed; please upload it again."


class ProcessMediaHandler:
    def __init__(
        self, runtime: Runtime, repo: MediaRepository, store: BlobStore, workers: ImageWorkers, *, group: str
    ) -> None:
        self.runtime, self.repo, self.store, self.workers, self.group = runtime, repo, store, workers, group

    async def handle(self, record: Record) -> None:
        command = await record_message(self.runtime, record, group=self.group, adapter=MEDIA_COMMANDS)
        if command is None:  # poison: dead-lettered
            return
        if accepted_too_late(command, record):
            await self._dead_letter(record, "expired", f"appended after accept_by={command.accept_by}")
            return
        try:
            event = await self._retry(self._apply, command, record)
        except (*TRANSIENT, ShuttingDown):
            raise  # not committed: the record comes back after the rebalance or restart
        except Exception as exc:  # anything else fails the same way every time: poison
            log.exception("media command %s failed permanently", command.message_id)
            await self._dead_letter(record, "failed", f"{type(exc).__name__}: {exc}")
            event = await self._give_up_safely(command)
        if event is None:
            return
        token = otel_context.attach(propagate.extract(header_map(record)))
        try:
            await publish(
                self.runtime.broker,
                Topic.MEDIA_EVENTS,
                event,
                source=self.runtime.source,
                timeout_s=self.runtime.publish_timeout_s,
            )
        finally:
            otel_context.detach(token)

    async def _apply(self, command: ProcessMedia, record: Record) -> MediaEvent | None:
        media = await self.repo.get(command.media_id)
        if media is None or media.owner_id != command.owner_id:
            await self._dead_letter(record, "unknown", f"no media {command.media_id} of {command.owner_id}")
            return None
        if media.status == "deleted":  # its report was withdrawn first: nothing left to do or announce
            log.info("media %s was deleted before it was processed", media.id)
            return None
        if media.event is not None:  # processed before: announce the same outcome again
            return MEDIA_EVENTS.validate_python(media.event)
        if media.status != "pending":
            await self._dead_letter(record, "not-uploaded", f"media {media.id} is {media.status}")
            return None
        data = await self.store.get(original_key(media.id))
        if data is None:
            await self._dead_letter(record, "missing", f"the original of {media.id} is not stored")
            return await self._give_up(command)
        return await self._process(media, data, command)

    async def _give_up_safely(self, command: ProcessMedia) -> MediaEvent | None:
        try:
            return await self._retry(self._give_up, command)
        except (*TRANSIENT, ShuttingDown):
            raise  # not committed: the redelivery fails again, is dead-lettered again and gives up then
        except Exception:  # dead-lettered already; the photo stays pending for an operator
            log.exception("could not mark media %s failed", command.media_id)
            return None

    async def _give_up(self, command: ProcessMedia) -> MediaEvent | None:
        """Processing was dead-lettered: the photo ends ``failed`` and MediaRejected says so."""
        media = await self.repo.get(command.media_id)
        if media is None or media.owner_id != command.owner_id:
            return None
        if media.event is not None:  # settled before (by this or an earlier try): the same again
            return MEDIA_EVENTS.validate_python(media.event)
        if media.status != "pending":
            return None
        for name in get_args(VariantName):  # what the failed try may have written already
            await self.store.delete(variant_key(media.id, name))
        failed = MediaRejected(
            media_id=media.id,
            owner_id=media.owner_id,
            reason=FAILED_REASON,
            correlation_id=command.correlation_id,
            causation_id=str(command.message_id),
        )
        if not await self.repo.finish(media.id, "failed", failed.model_dump(mode="json"), reason=FAILED_REASON):
            return await self._settled_meanwhile(media.id, [])
        log.warning("media %s failed: processing was dead-lettered", media.id)
        return failed

    async def _process(self, media: Media, data: bytes, command: ProcessMedia) -> MediaEvent | None:
        result = await self.workers.process(data)
        envelope = {"correlation_id": command.correlation_id, "causation_id": str(command.message_id)}
        if not isinstance(result, Processed):
            rejected = MediaRejected(media_id=media.id, owner_id=media.owner_id, reason=result.reason, **envelope)
            if not await self.repo.finish(media.id, "rejected", rejected.model_dump(mode="json"), reason=result.reason):
                return await self._settled_meanwhile(media.id, [])
            log.info("media %s rejected: %s", media.id, result.reason)
            return rejected

        variants: list[MediaVariant] = []
        written: list[str] = []
        for v in result.variants:
            written.append(variant_key(media.id, v.name))
            await self.store.put(variant_key(media.id, v.name), v.data, content_type=v.content_type)
            variants.append(
                MediaVariant(name=v.name, content_type=v.content_type, width=v.width, height=v.height, size=len(v.data))
            )
        etags = {v.name: v.etag for v in result.variants}
        processed = MediaProcessed(
            media_id=media.id,
            owner_id=media.owner_id,
            variants=tuple(variants),
            width=result.width,
            height=result.height,
            phash=result.phash,
            **envelope,
        )
        finished = await self.repo.finish(
            media.id,
            "processed",
            processed.model_dump(mode="json"),
            variants=[{**v.model_dump(), "etag": etags[v.name]} for v in variants],
            width=result.width,
            height=result.height,
            phash=result.phash,
        )
        if not finished:
            return await self._settled_meanwhile(media.id, written)
        return processed

    async def _settled_meanwhile(self, media_id: UUID, written: list[str]) -> MediaEvent | None:
        """Processing lost a race: the photo was deleted (or processed by a redelivery) meanwhile."""
        current = await self.repo.get(media_id)
        if current is None or current.status == "deleted":
            for key in written:  # the deletion may have run before these were stored
                await self.store.delete(key)
            log.info("media %s was deleted while it was processed", media_id)
            return None
        return MEDIA_EVENTS.validate_python(current.event) if current.event is not None else None

    async def _retry(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        # Past the deadline the record is not committed and comes back later.
        return await retry_transient(TRANSIENT, fn, *args, **kwargs)

    async def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        await self.runtime.dead_letter(record, group=self.group, reason=reason, error=error)


def register(runtime: Runtime, handler: ProcessMediaHandler, settings: MediaSettings) -> None:
    @runtime.broker.subscriber(
        Topic.MEDIA_COMMANDS,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        decoder=raw_body,
        title="media-commands",
        description="Processes stored originals into clean public variants and announces the outcome.",
    )
    async def on_media_command(_body: bytes, message: KafkaMessage) -> None:
        await handler.handle(message.raw_message)  # type: ignore[arg-type]
