"""What a command leaves behind, free of Kafka and Mongo: the records it stores and the events
rebuilt from them (so a redelivery re-emits the very same event)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from uuid_utils.compat import uuid7

from snapfix_issues.catalogue import CategorySpec
from snapfix_issues.domain import CommentRecord, HistoryEntry, IssueRecord, RejectedReportRecord, StoredEvent
from snapfix_issues.rules import Change, Rejection
from snapfix_shared import geo
from snapfix_shared.messages import (
    CommentOnIssue,
    EditIssue,
    Event,
    FollowIssue,
    IssueCommand,
    IssueCommented,
    IssueEdited,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    IssueVoted,
    Location,
    ReportIssue,
    ReportRejected,
    SetIssuePhotos,
    VoteOnIssue,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.issues import FieldError
from snapfix_shared.messages.media import IssuePhotoReason


def new_report(command: ReportIssue, category: CategorySpec | None = None) -> IssueRecord:
    """The report a ReportIssue creates; it records the event that will announce it.

    The category (already checked) gives the owning department and the due date, counted from
    the report's time: ``reported_at`` for an administrator's import of older reports, else now.
    """
    reported_at = command.reported_at or command.occurred_at
    return IssueRecord(
        id=command.issue_id,
        title=command.title,
        description=command.description,
        category=command.category,
        lat=command.location.lat,
        lon=command.location.lon,
        geohash=geo.encode(command.location.lat, command.location.lon),
        address=command.address,
        attributes=command.attributes,
        media_ids=command.media_ids,
        anonymous=command.anonymous,
        status="open",
        created_at=reported_at,
        reporter_id=command.actor_id,
        channel=command.channel,
        address_id=command.address_id,
        media_url=command.media_url,
        contact=command.contact,
        device_id=command.device_id,
        account_id=command.account_id,
        department=category.department if category else None,
        priority="normal",
        due_at=reported_at + timedelta(hours=category.sla_hours) if category else None,
        command_id=command.message_id,
        correlation_id=command.correlation_id,
        reported_event_id=uuid7(),
        reported_event_at=utcnow(),
    )


def applied(issue: IssueRecord, command_id: UUID, change: Change) -> IssueRecord:
    """The issue as the store holds it once ``change`` is applied (the read model's new state)."""
    update: dict[str, Any] = {
        **change.fields,
        "version": issue.version + 1,
        "applied_commands": (*issue.applied_commands, command_id),
        "events": (*issue.events, StoredEvent(command_id=command_id, event=change.event.model_dump(mode="json"))),
    }
    if change.history is not None:
        update["history"] = (*issue.history, HistoryEntry.model_validate(change.history))
    return IssueRecord.model_validate({**dict(issue), **update})


def reported_event(report: IssueRecord) -> IssueReported:
    """IssueReported rebuilt from what is stored, so a redelivery re-emits the same event."""
    return IssueReported(
        message_id=report.reported_event_id,
        occurred_at=report.reported_event_at,
        correlation_id=report.correlation_id,
        causation_id=str(report.command_id),
        actor_id=report.reporter_id,
        issue_id=report.id,
        title=report.title,
        description=report.description,
        category=report.category,
        location=Location(lat=report.lat, lon=report.lon),
        reported_at=report.created_at,
        address=report.address,
        attributes=report.attributes,
        media_ids=report.media_ids,
        anonymous=report.anonymous,
        department=report.department,
        due_at=report.due_at,
    )


def rejected_report(command: ReportIssue, rejection: Rejection) -> RejectedReportRecord:
    """What a refused report leaves behind: the reason its reporter reads, and the event to announce."""
    return RejectedReportRecord(
        id=command.issue_id,
        reporter_id=command.actor_id,
        reason=rejection.detail,
        errors=rejection.errors,
        command_id=command.message_id,
        correlation_id=command.correlation_id,
        event_id=uuid7(),
        event_at=utcnow(),
    )


def rejected_event(rejection: RejectedReportRecord) -> ReportRejected:
    """ReportRejected rebuilt from what is stored, so a redelivery re-emits the same event."""
    return ReportRejected(
        message_id=rejection.event_id,
        occurred_at=rejection.event_at,
        correlation_id=rejection.correlation_id,
        causation_id=str(rejection.command_id),
        actor_id=rejection.reporter_id,
        issue_id=rejection.id,
        reason=rejection.reason[:2000],
        errors=tuple(FieldError(field=f[:200], message=m[:1000]) for f, m in rejection.errors[:50]),
    )


def new_comment(command: CommentOnIssue) -> CommentRecord:
    return CommentRecord(
        id=command.comment_id,
        issue_id=command.issue_id,
        author_id=command.actor_id,
        body=command.body,
        internal=command.internal,
        created_at=command.occurred_at,
        command_id=command.message_id,
        correlation_id=command.correlation_id,
        event_id=uuid7(),
        event_at=utcnow(),
    )


def commented_event(comment: CommentRecord) -> IssueCommented:
    """IssueCommented rebuilt from the stored comment."""
    return IssueCommented(
        message_id=comment.event_id,
        occurred_at=comment.event_at,
        correlation_id=comment.correlation_id,
        causation_id=str(comment.command_id),
        actor_id=comment.author_id,
        issue_id=comment.issue_id,
        comment_id=comment.id,
        body=comment.body,
        internal=comment.internal,
        commented_at=comment.created_at,
    )


def voted_event(command: VoteOnIssue, *, event_id: UUID, event_at: datetime, votes: int) -> IssueVoted:
    return IssueVoted(
        message_id=event_id,
        occurred_at=event_at,
        correlation_id=command.correlation_id,
        causation_id=str(command.message_id),
        actor_id=command.actor_id,
        issue_id=command.issue_id,
        vote=command.vote,
        votes=votes,
    )


def followed_event(command: FollowIssue, *, event_id: UUID, event_at: datetime) -> IssueFollowed:
    return IssueFollowed(
        message_id=event_id,
        occurred_at=event_at,
        correlation_id=command.correlation_id,
        causation_id=str(command.message_id),
        actor_id=command.actor_id,
        issue_id=command.issue_id,
        follow=command.follow,
    )


def derived_id(source: UUID, purpose: bytes) -> UUID:
    """A UUIDv7 as old as ``source`` (its 48 time bits), the rest a hash of it and ``purpose``: a
    message derived from a stored event gets the same id each time it is rebuilt."""
    digest = int.from_bytes(hashlib.sha256(source.bytes + purpose).digest()[:10], "big")
    value = (source.int >> 80) << 80 | digest  # 48 time bits, then 80 hashed bits
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return UUID(int=value)


def photos_command(issue: IssueRecord, command: IssueCommand, event: Event) -> SetIssuePhotos | None:
    """What the media service is told about the report's photos once ``event`` is announced; None
    when there is nothing to tell: a report naming photos, an edit naming its photos (even none), or
    the withdrawal of a report that has photos. Built from the event (stored, rebuilt the same on a
    redelivery) and the command, so a redelivered command sends the very same command again.

    ``owner_id`` is the reporter: the report's actor, or the editor (only the reporter edits); the
    media service links only that owner's photos. ``issue`` is the report as the command found it.
    """
    reason: IssuePhotoReason
    match event:
        case IssueReported() if event.media_ids:
            reason, media_ids, owner = "reported", event.media_ids, event.actor_id
        case IssueEdited() if isinstance(command, EditIssue) and command.media_ids is not None:
            reason, media_ids, owner = "edited", event.media_ids, event.actor_id
        case IssueStatusChanged() if event.to_status == "withdrawn" and issue.media_ids:
            reason, media_ids, owner = "withdrawn", (), issue.reporter_id or event.actor_id
        case _:
            return None
    if owner is None:  # no reporter: no photo was linked to the report (nor can be)
        return None
    return SetIssuePhotos(
        message_id=derived_id(event.message_id, b"SetIssuePhotos"),
        occurred_at=event.occurred_at,
        correlation_id=event.correlation_id,
        causation_id=str(event.message_id),
        actor_id=event.actor_id,
        issue_id=event.issue_id,
        owner_id=owner,
        media_ids=tuple(media_ids),
        reason=reason,
    )
