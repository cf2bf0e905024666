"""The analytics batch: windows, backlog and streams from ``issues.events.v1`` (``consumers.py`` subscribes).

A batch goes through these steps, and is committed only after the last:
1. parse (not JSON, or a known type that does not validate: dead letter; a type newer than
   this service: skipped), drop repeats of one message id within the batch (``consumers``);
2. claim the batch's message ids (one insert); only ids claimed before (a redelivery, or
   the same event published again) are looked up in the ledger;
3. decide each event's increments in record order (``effects``), from its issue's
   projection and its partition's clock, both kept in memory between batches (read from
   the store only for what this process has not seen, and not for an issue newly reported
   earlier in the batch, or after a failure or a jump in a partition's offsets: another
   consumer may have had it meanwhile). Step 3 runs while the claims of step 2 are being
   written, as if none was claimed before (the common batch); when some were, nothing of
   that first pass is kept and the batch is decided again with their ledger entries;
4. write the decisions to the ledger (one insert, ``ledger``); ids found there already keep their stored decision;
5. then, at once (each only needs the ledger written first): advance the partition clocks,
   store the projections, apply the increments (see ``repository``: first those of
   redelivered events one by one, then the batch's new ones summed per cell, the
   collections side by side: cells not stored yet in one insert, the others one upsert each
   by ``_id``, a few at a time, which answers with the cell's new value), and publish each
   event's public form on ``analytics.issues-public.v1``;
6. publish each changed cell once on ``analytics.issue-stats.v1`` (a redelivery publishes
   both streams again: readers keep the latest per key, or drop a repeated message id).
Steps 2-6 are idempotent, so a transient failure retries them whole (``consumers``); the
writes of step 5 run in one task group, so a failed one ends its siblings before the retry
starts. Publishing and dead-lettering are the consumer's, passed in as callables: this module
imports no Kafka client and no store driver.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from snapfix_analytics.cache import CacheUnavailable, QueryCache
from snapfix_analytics.config import AnalyticsSettings
from snapfix_analytics.effects import CellDelta, IssueState, effects, event_time
from snapfix_analytics.ledger import (
    Decided,
    Doc,
    Record,
    decided_by,
    expanded,
    from_ledger,
    ledger_entry,
    merge,
    state_from,
    stats_message,
)
from snapfix_analytics.repository import AnalyticsRepository, together
from snapfix_analytics.windows import PartitionClock
from snapfix_shared.messages import IssueEvent, IssueReported, Message
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)
LEDGER_READS = 8  # concurrent ledger look-ups per batch (well under the connection pool)
YIELD_EVERY = 256  # events decided between two yields to the event loop (the claims being written meanwhile)
CACHED_ISSUES = 200_000  # projections kept in memory (least recently used go first)

# Publishes messages on a topic, each in the trace context of its record (None: the current one).
Publish = Callable[[Topic, list[tuple[Message, Record | None]]], Awaitable[None]]
DeadLetter = Callable[[Record, str], Awaitable[None]]  # a record that cannot be counted, and why


class IssueEvents:
    """Counts a batch of issue events exactly once (steps 2-6 above); ``process`` is idempotent."""

    def __init__(
        self,
        repo: AnalyticsRepository,
        cache: QueryCache,
        settings: AnalyticsSettings,
        *,
        publish: Publish,
        dead_letter: DeadLetter,
        transient: tuple[type[BaseException], ...],
    ) -> None:
        self.repo, self.cache, self.publish, self.dead_letter = repo, cache, publish, dead_letter
        self.transient = transient  # which failure of concurrent writes to raise when several fail
        self.lateness = timedelta(seconds=settings.allowed_lateness_s)
        self.secret = settings.pseudonym_secret.get_secret_value().encode()
        # What the store holds after the last batch this process completed, per partition;
        # trusted only while a partition's records follow on from that batch.
        self.issues: OrderedDict[UUID, tuple[int, IssueState]] = OrderedDict()
        self.clocks: dict[int, datetime | None] = {}
        self.next_offset: dict[int, int] = {}
        self.backfilled = False

    async def process(self, events: list[tuple[IssueEvent, Record]]) -> None:
        if not self.backfilled:
            if count := await self.repo.backfill_claims():
                log.info("claimed the %d message ids of a ledger written before claims", count)
            self.backfilled = True
        self._forget_moved(events)
        try:
            decided, progress = await self._decide(events)
            await self._record(decided)
            changed = [state for issue_id in progress.changed if (state := progress.states.get(issue_id)) is not None]
            newest = {p: clock.newest for p, clock in progress.clocks.items() if clock.newest is not None}
            writes: list[Coroutine[Any, Any, Any]] = [  # all need the ledger first, none needs another
                self._apply(decided),
                self.repo.advance_clocks(newest),
                self.repo.save_states(changed, new=progress.new),
                self._publish(Topic.ANALYTICS_ISSUES_PUBLIC, self._public(decided)),
            ]
            touched = (await together(writes, transient=self.transient))[0]
            await self._publish(Topic.ANALYTICS_ISSUE_STATS, self._stats(touched))
        except BaseException:
            self._forget_all()  # what the store holds is not known: read it again
            raise
        self._remember(events, progress)
        try:
            await self.cache.invalidate()
        except CacheUnavailable:
            log.warning("analytics query cache not invalidated (Redis down); entries expire on their TTL")

    async def _decide(self, events: list[tuple[IssueEvent, Record]]) -> tuple[list[Decided], Progress]:
        """Each event's increments, in record order; events in the ledger keep their stored ones.

        The batch is decided while its ids are being claimed, as if none was claimed before;
        that pass is kept only when the claims confirm it (nothing of it is written before).
        """
        claims = [(e.message_id, r.partition, r.offset) for e, r in events]
        claiming: list[Coroutine[Any, Any, Any]] = [self.repo.claim_ids(claims), self._decide_all(events, set(), {})]
        seen_before, first = await together(claiming, transient=self.transient)
        if seen_before:  # a redelivery, or an event published again: decided anew with the ledger
            stored = await self._ledger_entries([e.message_id for e, _ in events if e.message_id in seen_before])
            decided, progress, failed = await self._decide_all(events, seen_before, stored)
        else:
            decided, progress, failed = first
        for record, exc in failed:
            await self.dead_letter(record, f"{exc!r}")
        return decided, progress

    async def _decide_all(
        self, events: list[tuple[IssueEvent, Record]], seen_before: set[UUID], stored: dict[UUID, Doc]
    ) -> tuple[list[Decided], Progress, list[tuple[Record, Exception]]]:
        """The batch's decisions given the ids claimed before and their ledger entries; reads the
        store, writes nothing. Also the events that cannot be counted (to dead-letter).

        A record seen before (a redelivery: same partition and offset) also restores the
        projection it left, so the events after it start from the right state; the same
        event published again elsewhere in the log changes nothing at all.
        """
        progress = Progress()
        await self._load_states(events, progress, seen_before)
        decided: list[Decided] = []
        failed: list[tuple[Record, Exception]] = []
        for position, (event, record) in enumerate(events):
            if position % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let the claims' insert commands go out meanwhile
            clock = await self._clock_of(record.partition, progress)
            progress.partitions[event.issue_id] = record.partition
            entry = stored.get(event.message_id)
            if entry is not None:
                decided.append(self._decided_before(event, record, expanded(entry, event, self.secret), progress))
                continue
            if event.issue_id not in progress.states:  # a report starts from nothing; anything else from the store
                reported = isinstance(event, IssueReported)
                progress.states[event.issue_id] = None if reported else progress.loaded.get(event.issue_id)
                if reported:
                    progress.new.add(event.issue_id)
            before = progress.states[event.issue_id]
            try:
                effect = effects(event, before, clock, self.lateness, self.secret)
            except Exception as exc:  # a bug or an impossible event fails the same way every time: poison
                log.exception("issue event %s cannot be counted", event.message_id)
                failed.append((record, exc))
                continue
            clock.observe(event_time(event))
            progress.states[event.issue_id] = effect.state
            if effect.state != before:  # a comment or a follow leaves the projection as stored: no write
                progress.changed.add(event.issue_id)
            decided.append(decided_by(event, record, effect))
        return decided, progress, failed

    async def _clock_of(self, partition: int, progress: Progress) -> PartitionClock:
        """The partition's clock in this batch, from where its last batch (or the store) left it."""
        if partition not in progress.clocks:
            newest = self.clocks[partition] if partition in self.clocks else await self.repo.clock(partition)
            progress.clocks[partition] = PartitionClock(newest)
        return progress.clocks[partition]

    @staticmethod
    def _decided_before(event: IssueEvent, record: Record, entry: Doc, progress: Progress) -> Decided:
        """An event the ledger holds (``entry``, expanded): its stored decision."""
        partition = record.partition
        if (entry["p"], entry["o"]) == (partition, record.offset):
            progress.clocks[partition].observe(event_time(event))
            if entry.get("state") is not None:
                progress.states[event.issue_id] = state_from(entry["state"])
            return from_ledger(event, record, entry)
        if entry["p"] == partition and entry["o"] < record.offset:
            # Published again later in the same partition: the first copy came before and was
            # applied (its batch was committed) or is applied again by its own redelivery.
            return from_ledger(event, record, entry, settled=True)
        return from_ledger(event, record, entry)

    async def _load_states(
        self, events: list[tuple[IssueEvent, Record]], progress: Progress, seen_before: set[UUID]
    ) -> None:
        """The projections the batch starts from: from memory, the others in one read (none for
        an issue first reported earlier in the batch: its events start from that report)."""
        missing: dict[UUID, None] = {}  # in order, once each
        reported: set[UUID] = set()
        for event, _record in events:
            issue_id = event.issue_id
            if isinstance(event, IssueReported) and event.message_id not in seen_before:
                reported.add(issue_id)
            if issue_id in progress.loaded or issue_id in missing or issue_id in reported:
                continue
            if (cached := self.issues.get(issue_id)) is not None:
                progress.loaded[issue_id] = cached[1]
            else:
                missing[issue_id] = None
        found = await self.repo.states(list(missing))
        for issue_id in missing:
            progress.loaded[issue_id] = found.get(issue_id)

    def _forget_moved(self, events: list[tuple[IssueEvent, Record]]) -> None:
        """Partitions whose records do not follow on from this process's last batch: read their state again."""
        first: dict[int, int] = {}
        for _event, record in events:
            first.setdefault(record.partition, record.offset)
        moved = {p for p, offset in first.items() if self.next_offset.get(p) != offset}
        if not moved:
            return
        for p in moved:
            self.clocks.pop(p, None)
            self.next_offset.pop(p, None)
        for issue_id in [i for i, (p, _) in self.issues.items() if p in moved]:
            del self.issues[issue_id]

    def _forget_all(self) -> None:
        self.issues.clear()
        self.clocks.clear()
        self.next_offset.clear()

    def _remember(self, events: list[tuple[IssueEvent, Record]], progress: Progress) -> None:
        """The batch is stored: what it left is what the next batch of these partitions starts from."""
        for _event, record in events:
            self.next_offset[record.partition] = record.offset + 1
        for partition, clock in progress.clocks.items():
            self.clocks[partition] = clock.newest
        for issue_id, state in progress.states.items():
            if state is None:
                continue
            self.issues[issue_id] = (progress.partitions.get(issue_id, -1), state)
            self.issues.move_to_end(issue_id)
        while len(self.issues) > CACHED_ISSUES:
            self.issues.popitem(last=False)

    async def _ledger_entries(self, ids: list[UUID]) -> dict[UUID, Doc]:
        # One by one on _id, a few at a time: FerretDB answers $in on _id with a full scan.
        gate = asyncio.Semaphore(LEDGER_READS)

        async def read(message_id: UUID) -> Doc | None:
            async with gate:
                return await self.repo.ledger(message_id)

        found = await asyncio.gather(*(read(i) for i in ids))
        return {i: doc for i, doc in zip(ids, found, strict=True) if doc is not None}

    async def _record(self, decided: list[Decided]) -> None:
        """The ledger, before anything else of the batch is written, so a decision is never taken twice."""
        new = [d for d in decided if not d.redelivered]
        raced = await self.repo.claim([ledger_entry(d) for d in new])
        for d in new:
            if d.event.message_id in raced:  # another instance took the same event just now: its decision wins
                log.warning("issue event %s was taken by another consumer meanwhile", d.event.message_id)
                entry = await self.repo.ledger(d.event.message_id)
                assert entry is not None
                decided[decided.index(d)] = from_ledger(d.event, d.record, expanded(entry, d.event, self.secret))

    async def _apply(self, decided: list[Decided]) -> dict[tuple[str, str], Doc | None]:
        touched: dict[tuple[str, str], Doc | None] = {}
        for d in decided:  # possibly half-applied before: one by one, in log order
            if d.redelivered:
                for cell in d.cells:
                    touched[(cell.collection, cell.key)] = await self.repo.apply(cell, d.partition, d.offset, d.offset)
        per_cell = merge([d for d in decided if not d.redelivered])
        by_collection: dict[str, list[tuple[CellDelta, dict[int, int]]]] = {}
        for cell, last in per_cell.values():
            by_collection.setdefault(cell.collection, []).append((cell, last))
        # The collections side by side (on SQLite their writers only queue on its one database file).
        flushed = await together([self.repo.flush(c, updates) for c, updates in by_collection.items()])
        for collection, docs in zip(by_collection, flushed, strict=True):
            for key, doc in docs.items():
                touched[(collection, key)] = doc
        await self._read_unknown(touched)
        return touched

    async def _read_unknown(self, touched: dict[tuple[str, str], Doc | None]) -> None:
        """Cells updated (not created) by this batch, or applied before: their current value, one read per
        collection."""
        unknown: dict[str, list[str]] = {}
        for (collection, key), doc in touched.items():
            if doc is None:
                unknown.setdefault(collection, []).append(key)
        for collection, keys in unknown.items():
            for key, value in (await self.repo.cells(collection, keys)).items():
                touched[(collection, key)] = value

    def _stats(self, touched: dict[tuple[str, str], Doc | None]) -> list[tuple[Message, Record | None]]:
        stats = (stats_message(collection, doc) for (collection, _key), doc in touched.items())
        return [(message, None) for message in stats if message is not None]

    def _public(self, decided: list[Decided]) -> list[tuple[Message, Record | None]]:
        return [(d.public, d.record) for d in decided if d.public is not None]

    async def _publish(self, topic: Topic, messages: list[tuple[Message, Record | None]]) -> None:
        if messages:
            await self.publish(topic, messages)


@dataclass
class Progress:
    """A batch's partition clocks and issue projections as its events are decided."""

    clocks: dict[int, PartitionClock] = field(default_factory=dict)
    states: dict[UUID, IssueState | None] = field(default_factory=dict)
    changed: set[UUID] = field(default_factory=set)
    new: set[UUID] = field(default_factory=set)  # first seen in this batch, with their report
    loaded: dict[UUID, IssueState | None] = field(default_factory=dict)  # as the batch found them
    partitions: dict[UUID, int] = field(default_factory=dict)  # the partition each issue's events came from
