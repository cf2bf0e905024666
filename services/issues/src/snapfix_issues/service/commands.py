"""What an issue command does: the orchestration of ``issues.commands.v1`` (``consumers.py`` subscribes).

The consumer hands over a batch's reports in chunks (``apply_reports``), then its other
commands one by one in record order (``apply``). A report is stored with bulk writes; a
lifecycle change is decided by the rules (``rules.py``) and stored on the version it was
decided on; comments, votes and follows are stored idempotently. Each write goes through to
the issue cache and the list read model. A redelivered command stores nothing twice and
returns the event it produced first. What comes back is the events to announce (with the
``SetIssuePhotos`` command the media service is sent when a report, an edit or a withdrawal
concerns photos: ``records.photos_command``), or ``Refused`` (the consumer dead-letters it).
No Kafka here: the consumer parses, publishes, dead-letters and commits; store and Redis
failures are retried here, call by call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from uuid_utils.compat import uuid7

from snapfix_issues import rules
from snapfix_issues.cache import CachedIssue, IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.domain import CommentRecord, IssueRecord, storage_precision
from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.records import (
    applied,
    commented_event,
    followed_event,
    new_comment,
    new_report,
    photos_command,
    rejected_event,
    rejected_report,
    reported_event,
    voted_event,
)
from snapfix_issues.repository import Reports, StoreError
from snapfix_issues.rules import Change, Rejection
from snapfix_shared.consuming import retry_transient
from snapfix_shared.messages import (
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

P = ParamSpec("P")
T = TypeVar("T")
# Lifecycle changes are decided on a version; another writer in between means decide again.
MAX_DECISIONS = 5


@dataclass(frozen=True)
class Refused:
    """A command that must not take effect: it goes to the dead-letter topic."""

    reason: str
    error: str


# What a command comes to: the messages to send (its events, and a command to the media
# service where photos are concerned), or a refusal.
Outcome = list[Message] | Refused


@dataclass(frozen=True)
class Known:
    """An issue as the handler knows it: from the read model with its comments, or from the store (None)."""

    issue: IssueRecord
    comments: tuple[CommentRecord, ...] | None


class CatalogueHooks(Protocol):
    async def loaded(self) -> None: ...
    async def refresh(self) -> None: ...


class IssueCommands:
    def __init__(
        self,
        repo: Reports,
        cache: IssueCache,
        readmodel: ReadModel,
        catalogue: Catalogue,
        *,
        sync: CatalogueHooks | None = None,
    ) -> None:
        self.repo, self.cache, self.readmodel, self.catalogue, self.sync = repo, cache, readmodel, catalogue, sync

    @asynccontextmanager
    async def applying(self) -> AsyncIterator[None]:
        """Around a batch: the catalogue loaded, and never interleaved with a rebuild of the read model."""
        if self.sync is not None:
            await self.sync.loaded()
        async with self.readmodel.writing:
            yield

    async def refresh_for(self, commands: Sequence[ReportIssue]) -> bool:
        """Reload the catalogue if a report names a category unknown here (an admin may have added
        it on another instance); whether it was reloaded."""
        if self.sync is None or not any(self.catalogue.get(c.category) is None for c in commands):
            return False
        await self._retry(self.sync.refresh)
        return True

    # -- reports --------------------------------------------------------------------------

    async def apply_reports(self, commands: Sequence[ReportIssue]) -> list[tuple[int, Outcome]]:
        """Store a chunk of reports; what each came to, as (its index in ``commands``, outcome),
        in the order decided: the events to announce (those refused included), or a conflict.

        The consumer runs a batch's chunks concurrently: one chunk's CPU work overlaps another's
        wait on the store and Redis. A later command of the batch on the same issue is applied
        only after every chunk has returned, so it follows its report.
        """
        outcomes: list[tuple[int, Outcome]] = []
        accepted: list[tuple[int, ReportIssue]] = []
        for index, command in enumerate(commands):
            rejection = rules.check_report(command, self.catalogue)
            if rejection is None:
                accepted.append((index, command))
                continue
            # Refused now, but perhaps stored before the catalogue changed: then announce again.
            stored = await self._retry(self.repo.get, command.issue_id)
            if stored is not None and stored.command_id == command.message_id:
                outcomes.append((index, _announced(stored, command, reported_event(stored))))
            elif stored is not None:  # its id belongs to another command's report: not this reporter's to read
                outcomes.append(
                    (index, Refused("conflict", f"issue {command.issue_id} was created by another command"))
                )
            else:
                # Accepted at the edge (202), refused here: the reporter reads why at the report's address.
                kept = await self._retry(self.repo.reject, rejected_report(command, rejection))
                outcomes.append((index, [rejected_event(kept)]))
        if accepted:
            outcomes += await self._store_reports(accepted)
        return outcomes

    async def _store_reports(self, accepted: list[tuple[int, ReportIssue]]) -> list[tuple[int, Outcome]]:
        reports = [new_report(c, self.catalogue.get(c.category)) for _, c in accepted]
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
        outcomes: list[tuple[int, Outcome]] = []
        for index, command in accepted:
            if command.issue_id in stored_now:
                report = stored_now[command.issue_id]
                outcomes.append((index, _announced(report, command, reported_event(report))))
            else:  # its command id already created another issue: a conflict, not worth a retry
                outcomes.append((index, Refused("conflict", f"command {command.message_id} created another issue")))
        return outcomes

    # -- everything else ------------------------------------------------------------------

    async def apply(self, command: IssueCommand) -> Outcome:
        match command:
            case ChangeIssueStatus() | AssignIssue() | EditIssue():
                return await self._apply_change(command)
            case CommentOnIssue():
                return await self._apply_comment(command)
            case VoteOnIssue() | FollowIssue():
                return await self._apply_participation(command)
        raise AssertionError(f"unhandled command {type(command).__name__}")

    async def _apply_change(self, command: ChangeIssueStatus | AssignIssue | EditIssue) -> Outcome:
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
                return _announced(issue, command, ISSUE_EVENTS.validate_python(stored))
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
                return _announced(issue, command, verdict.event)
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

    async def _apply_comment(self, command: CommentOnIssue) -> Outcome:
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

    async def _apply_participation(self, command: VoteOnIssue | FollowIssue) -> Outcome:
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

    async def _retry(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        # Past the deadline the batch is rewound (not committed) and comes back later.
        return await retry_transient((StoreError, ReadModelDown), fn, *args, **kwargs)


def _announced(issue: IssueRecord, command: IssueCommand, event: Event) -> list[Message]:
    """The event, and the command to the media service it calls for, if any (``records.photos_command``)."""
    photos = photos_command(issue, command, event)
    return [event] if photos is None else [event, photos]


def _describe(rejection: Rejection) -> str:
    return f"{rejection.status}: {rejection.detail}"


def _refused(rejection: Rejection) -> Refused:
    return Refused("rejected", _describe(rejection))
