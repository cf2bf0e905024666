"""Subscribers of the issues service: parse, decide, store, announce, then commit.

Commands arrive in batches. A batch's reports are stored with bulk writes; its other
commands are then applied one by one in record order (one issue's commands share a
partition and a report precedes its issue's later commands, so per-issue order holds).
A batch is committed only after its effects are stored and their events acknowledged.
A redelivered command stores nothing twice and re-publishes the event it produced first.
A report refused here (the gateway accepted it against its copy of the catalogue) is kept as
a rejection and announced as ``ReportRejected``; other refused commands are dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from aiokafka import ConsumerRecord
from opentelemetry import propagate
from opentelemetry.context import Context
from pymongo.errors import PyMongoError
from uuid_utils.compat import uuid7

from snapfix_issues import rules
from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.config import IssuesSettings
from snapfix_issues.domain import CommentRecord, IssueRecord, storage_precision
from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.records import (
    applied,
    commented_event,
    followed_event,
    new_comment,
    new_report,
    rejected_event,
    rejected_report,
    reported_event,
    voted_event,
)
from snapfix_issues.repository import Reports
from snapfix_issues.rules import Change, Rejection
from snapfix_shared.consuming import record_message, retry_transient, subscribe_batches
from snapfix_shared.kafka import accepted_too_late, header_map, publish_all
from snapfix_shared.messages import (
    ISSUE_COMMANDS,
    ISSUE_EVENTS,
    AssignIssue,
    ChangeIssueStatus,
    CommentOnIssue,
    EditIssue,
    Event,
    FollowIssue,
    IssueCommand,
    Message,
    ReportIssue,
    VoteOnIssue,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Record = ConsumerRecord[Any, Any]
# Lifecycle changes are decided on a version; another writer in between means decide again.
MAX_DECISIONS = 5
# A batch's reports are stored in chunks of this size, concurrently, each started as soon as
# its records are parsed (bench/run.py consumer: 250 cost the store less CPU per report than 125).
REPORT_CHUNK = 250


@dataclass(frozen=True)
class Refused:
    """A command that must not take effect: it goes to the dead-letter topic."""

    reason: str
    error: str


@dataclass
class Batch:
    announcements: list[tuple[Message, Context]] = field(default_factory=list)

    def announce(self, events: Sequence[Event], record: Record) -> None:
        # Each event is published in the trace of the request that caused it.
        context = propagate.extract(header_map(record))
        self.announcements.extend((event, context) for event in events)


@dataclass(frozen=True)
class Known:
    """An issue as the handler knows it: from the read model with its comments, or from the store (None)."""

    issue: IssueRecord
    comments: tuple[CommentRecord, ...] | None


class CatalogueHooks(Protocol):
    async def loaded(self) -> None: ...
    async def refresh(self) -> None: ...


class IssueCommandHandler:
    def __init__(
        self,
        runtime: Runtime,
        repo: Reports,
        cache: IssueCache,
        readmodel: ReadModel,
        catalogue: Catalogue,
        *,
        group: str,
        sync: CatalogueHooks | None = None,
        require_actor_proof: bool = True,
    ) -> None:
        self.runtime, self.repo, self.cache, self.catalogue, self.group = runtime, repo, cache, catalogue, group
        self.readmodel, self.sync, self.require_actor_proof = readmodel, sync, require_actor_proof

    async def handle(self, records: Sequence[Record]) -> None:
        if self.sync is not None:
            await self.sync.loaded()
        async with self.readmodel.writing:  # never interleaved with a rebuild of the read model
            await self._handle(records)

    async def _handle(self, records: Sequence[Record]) -> None:
        """Reports are stored in chunks while the rest of the batch is still parsed; the other
        commands follow, in record order, once every report of the batch is stored and announced."""
        others: list[tuple[IssueCommand, Record]] = []
        refreshed = False
        try:
            async with asyncio.TaskGroup() as group:  # one chunk failing cancels the others: no commit
                chunk: list[tuple[ReportIssue, Record]] = []
                for index, record in enumerate(records):
                    command = await self._parse(record)
                    if command is not None and await self._actor_proven(command, record):
                        if isinstance(command, ReportIssue):
                            chunk.append((command, record))
                        else:
                            others.append((command, record))
                    if chunk and (len(chunk) == REPORT_CHUNK or index == len(records) - 1):
                        if not refreshed and self.sync is not None and self._unknown_category(chunk):
                            await self._retry(self.sync.refresh)  # an admin may have added it on another instance
                            refreshed = True  # once a batch
                        group.create_task(self._apply_reports(chunk))
                        chunk = []
                        # The chunk runs up to its first write (the store, Redis, the broker) while
                        # the next one is parsed: the wait overlaps this CPU work.
                        await asyncio.sleep(0)
        except ExceptionGroup as failed:  # the first failure, as a sequential loop would raise it
            raise failed.exceptions[0] from None
        batch = Batch()
        for command, record in others:
            outcome = await self._apply(command)
            if isinstance(outcome, Refused):
                await self._dead_letter(record, outcome.reason, outcome.error)
            else:
                batch.announce(outcome, record)
        await self._publish(batch)

    def _unknown_category(self, chunk: list[tuple[ReportIssue, Record]]) -> bool:
        return any(self.catalogue.get(c.category) is None for c, _ in chunk)

    async def _publish(self, batch: Batch) -> None:
        await publish_all(
            self.runtime.broker,
            Topic.ISSUES_EVENTS,
            batch.announcements,
            source=self.runtime.source,
            timeout_s=self.runtime.publish_timeout_s,
        )

    # -- reports --------------------------------------------------------------------------

    async def _apply_reports(self, commands: list[tuple[ReportIssue, Record]]) -> None:
        """Store a chunk of reports, announce them (and those refused), all acknowledged on return.

        Chunks of one batch run concurrently: one chunk's CPU work overlaps another's wait on
        the store, Redis and the broker. A later command of the batch on the same issue is
        applied only after every chunk has returned, so it follows its report.
        """
        batch = Batch()
        accepted: list[tuple[ReportIssue, Record]] = []
        for command, record in commands:
            rejection = rules.check_report(command, self.catalogue)
            if rejection is None:
                accepted.append((command, record))
                continue
            # Refused now, but perhaps stored before the catalogue changed: then announce again.
            stored = await self._retry(self.repo.get, command.issue_id)
            if stored is not None and stored.command_id == command.message_id:
                batch.announce([reported_event(stored)], record)
            elif stored is not None:  # its id belongs to another command's report: not this reporter's to read
                await self._dead_letter(record, "conflict", f"issue {command.issue_id} was created by another command")
            else:
                # Accepted at the edge (202), refused here: the reporter reads why at the report's address.
                kept = await self._retry(self.repo.reject, rejected_report(command, rejection))
                batch.announce([rejected_event(kept)], record)
        if accepted:
            await self._store_reports(accepted, batch)
        await self._publish(batch)

    async def _store_reports(self, accepted: list[tuple[ReportIssue, Record]], batch: Batch) -> None:
        reports = [new_report(c, self.catalogue.get(c.category)) for c, _ in accepted]
        existing = await self._retry(self.repo.insert_new, reports)
        stored_now = {r.id: r for r in reports if r.id not in existing}
        fresh = list(stored_now.values())
        await asyncio.gather(
            self._retry(self.cache.store, [CachedIssue(r) for r in fresh]),
            self._retry(self.readmodel.index, fresh),
        )
        # A redelivered command re-announces what was stored the first time, unchanged: as the
        # read model has it, else read back one by one (FerretDB answers $in with a full scan).
        healed = []
        for issue_id in existing:
            entry = await self.cache.get(issue_id)
            found = entry.issue if entry is not None else await self._retry(self.repo.get, issue_id)
            if found is not None:
                stored_now[issue_id] = found
                if entry is None:
                    healed.append(found)
        await self._retry(self.cache.invalidate, [i.id for i in healed])
        await self._retry(self.readmodel.index, healed)
        for command, record in accepted:
            if command.issue_id in stored_now:
                batch.announce([reported_event(stored_now[command.issue_id])], record)
            else:  # its command id already created another issue: a conflict, not worth a retry
                await self._dead_letter(record, "conflict", f"command {command.message_id} created another issue")

    # -- everything else ------------------------------------------------------------------

    async def _apply(self, command: IssueCommand) -> list[Event] | Refused:
        match command:
            case ChangeIssueStatus() | AssignIssue() | EditIssue():
                return await self._apply_change(command)
            case CommentOnIssue():
                return await self._apply_comment(command)
            case VoteOnIssue() | FollowIssue():
                return await self._apply_participation(command)
        raise AssertionError(f"unhandled command {type(command).__name__}")

    async def _apply_change(self, command: ChangeIssueStatus | AssignIssue | EditIssue) -> list[Event] | Refused:
        """Decide on the read model's copy, and on the stored record when that copy may be behind.

        The store's update is conditional on the version decided on and on the command not
        applied yet, so a copy that is behind costs a second decision, never a wrong change.
        """
        entry = await self.cache.get(command.issue_id)
        for _ in range(MAX_DECISIONS):
            issue = entry.issue if entry is not None else await self._retry(self.repo.get, command.issue_id)
            if issue is None:
                return _refused(Rejection(404, f"no issue {command.issue_id}"))
            stored = issue.stored_event(command.message_id)
            if stored is not None:  # applied before: the same event again, and finish what followed it
                if entry is None:  # the read model may have missed it (a crash before it was written)
                    await self._project(issue, None)
                await self._after_change(issue, command)
                return [ISSUE_EVENTS.validate_python(stored)]
            verdict = rules.decide(
                issue, command, catalogue=self.catalogue, original_exists=await self._original_exists(issue, command)
            )
            if not isinstance(verdict, Change):
                if entry is not None:  # perhaps a redelivery the copy cannot tell: ask the store
                    entry = None
                    continue
                return _refused(verdict or Rejection(422, "nothing to change"))
            if await self._retry(self.repo.apply_change, issue, command.message_id, verdict):
                await self._project(
                    applied(issue, command.message_id, verdict), entry.comments if entry is not None else None
                )
                await self._after_change(issue, command)
                return [verdict.event]
            entry = None
        raise RuntimeError(f"issue {command.issue_id} kept changing while {command.message_id} was decided")

    async def _project(self, issue: IssueRecord, comments: tuple[CommentRecord, ...] | None) -> None:
        """Write an issue's new state through to the read model (its comments unknown: drop the entry)."""
        if comments is None:
            await self._retry(self.cache.invalidate, [issue.id])
        else:
            await self._retry(self.cache.store, [CachedIssue(issue, comments)])
        await self._retry(self.readmodel.index, [issue])

    async def _original_exists(self, issue: IssueRecord, command: IssueCommand) -> bool:
        if not isinstance(command, ChangeIssueStatus) or command.duplicate_of in {None, issue.id}:
            return False
        assert command.duplicate_of is not None
        if await self.cache.get(command.duplicate_of) is not None:
            return True
        return await self._retry(self.repo.get, command.duplicate_of) is not None

    async def _after_change(self, issue: IssueRecord, command: IssueCommand) -> None:
        if isinstance(command, ChangeIssueStatus) and command.to == "duplicate" and command.duplicate_of:
            at = storage_precision(command.occurred_at)
            moved = await self._retry(self.repo.move_followers, issue.id, command.duplicate_of, issue.reporter_id, at)
            since_ms = int(at.timestamp() * 1000)
            await self._retry(
                self.readmodel.follows,
                [(command.duplicate_of, user, True, since_ms) for user in moved]
                + [(issue.id, user, False, since_ms) for user in moved],
                keep_since=True,
            )
            await self._retry(self.cache.invalidate, [issue.id, command.duplicate_of])  # their follower counts

    async def _checked_issue(self, command: IssueCommand) -> Known | Refused:
        """The issue a comment, vote or follow is about, if the rules let the command act on it."""
        entry = await self.cache.get(command.issue_id)
        if entry is not None and not isinstance(
            rules.decide(entry.issue, command, catalogue=self.catalogue), Rejection
        ):
            return Known(entry.issue, entry.comments)
        issue = await self._retry(self.repo.get, command.issue_id)  # the store has the last word
        verdict = rules.decide(issue, command, catalogue=self.catalogue)
        if isinstance(verdict, Rejection):
            return _refused(verdict)
        assert issue is not None
        return Known(issue, None)

    async def _apply_comment(self, command: CommentOnIssue) -> list[Event] | Refused:
        checked = await self._checked_issue(command)
        if isinstance(checked, Refused):
            return checked
        comment = new_comment(command)
        earlier = await self._retry(self.repo.insert_comment, comment)
        if earlier is not None:
            if earlier.command_id != command.message_id:
                return Refused("conflict", f"comment {command.comment_id} was made by another command")
            comment = earlier
        await self._retry(self.cache.add_comment, comment)
        return [commented_event(comment)]

    async def _apply_participation(self, command: VoteOnIssue | FollowIssue) -> list[Event] | Refused:
        checked = await self._checked_issue(command)
        if isinstance(checked, Refused):
            return checked
        assert command.actor_id is not None  # checked by the rules
        kind = "vote" if isinstance(command, VoteOnIssue) else "follow"
        active = command.vote if isinstance(command, VoteOnIssue) else command.follow
        current = await self._retry(self.repo.get_participation, kind, command.issue_id, command.actor_id)
        if current is not None and current.get("command_id") == command.message_id:
            doc = current  # applied before: re-announce the same event
        else:
            was_active = current is not None and current.get("active")
            doc = {
                "issue_id": command.issue_id,
                "user_id": command.actor_id,
                "active": active,
                "command_id": command.message_id,
                "event_id": uuid7(),
                "event_at": storage_precision(utcnow()),
            }
            if kind == "follow":
                doc["since"] = current["since"] if current is not None and was_active else command.occurred_at
            await self._retry(self.repo.put_participation, kind, doc)
        count = await self._retry(self.repo.recount, kind, command.issue_id)  # also heals a lost count
        await self._project_count(checked, kind, count)
        if kind == "follow":
            since = doc.get("since") or command.occurred_at
            await self._retry(
                self.readmodel.follows,
                [(command.issue_id, command.actor_id, bool(doc["active"]), int(since.timestamp() * 1000))],
            )
        if isinstance(command, VoteOnIssue):
            if doc.get("votes") is None:  # the count this command's event reports, fixed once
                doc = {**doc, "votes": count}
                await self._retry(self.repo.put_participation, kind, doc)
            return [voted_event(command, event_id=doc["event_id"], event_at=doc["event_at"], votes=doc["votes"])]
        return [followed_event(command, event_id=doc["event_id"], event_at=doc["event_at"])]

    async def _project_count(self, known: Known, kind: str, count: int) -> None:
        field = "votes" if kind == "vote" else "followers"
        await self._project(known.issue.model_copy(update={field: count}), known.comments)

    # -- plumbing -------------------------------------------------------------------------

    async def _parse(self, record: Record) -> IssueCommand | None:
        command = await record_message(self.runtime, record, group=self.group, adapter=ISSUE_COMMANDS)
        if command is None:  # poison: dead-lettered
            return None
        if accepted_too_late(command, record):
            await self._dead_letter(
                record, "expired", f"appended after accept_by={command.accept_by}; the sender had reported failure"
            )
            return None
        return command

    async def _actor_proven(self, command: IssueCommand, record: Record) -> bool:
        """Only the gateway vouches for an actor: a command without its valid proof is dead-lettered, never applied.

        The rules trust ``actor_id``, ``actor_role`` and ``actor_departments``; the proof (an HMAC
        over them, the command's type, id and issue) does not expire, as a command may wait in the log.
        """
        if self.runtime.internal_tokens.command_verified(command):
            return True
        if not self.require_actor_proof:  # upgrading: applied as before, and logged
            log.warning("command %s applied without a proven actor (require_actor_proof off)", command.message_id)
            return True
        await self._dead_letter(record, "unverified", f"the actor of {command.message_id} is not proven by the gateway")
        return False

    async def _dead_letter(self, record: Record, reason: str, error: str) -> None:
        await self.runtime.dead_letter(record, group=self.group, reason=reason, error=error)

    async def _retry(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        # Past the deadline the batch is rewound (not committed) and comes back later.
        return await retry_transient((PyMongoError, ReadModelDown), fn, *args, **kwargs)


def _describe(rejection: Rejection) -> str:
    return f"{rejection.status}: {rejection.detail}"


def _refused(rejection: Rejection) -> Refused:
    return Refused("rejected", _describe(rejection))


def register(runtime: Runtime, handler: IssueCommandHandler, settings: IssuesSettings) -> None:
    subscribe_batches(
        runtime.broker,
        Topic.ISSUES_COMMANDS,
        group=settings.consumer_group,
        handle=handler.handle,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        title="issues-commands",
        description="Applies issue commands (reports, lifecycle, comments, votes, follows) and announces their events.",
    )
