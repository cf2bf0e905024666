"""Decisions of the issues domain, free of Kafka and Mongo: commands in, documents and events out."""

from __future__ import annotations

from uuid_utils.compat import uuid7

from snapfix_issues.domain import IssueRecord
from snapfix_shared.messages import IssueReported, Location, ReportIssue
from snapfix_shared.messages.base import utcnow


def new_report(command: ReportIssue) -> IssueRecord:
    """The report a ReportIssue creates; it records the event that will announce it."""
    return IssueRecord(
        id=command.issue_id,
        title=command.title,
        description=command.description,
        category=command.category,
        lat=command.location.lat,
        lon=command.location.lon,
        status="open",
        created_at=command.occurred_at,
        reporter_id=command.actor_id,
        command_id=command.message_id,
        correlation_id=command.correlation_id,
        reported_event_id=uuid7(),
        reported_event_at=utcnow(),
    )


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
    )


def public_view(report: IssueRecord) -> dict[str, object]:
    """The report as the API shows it."""
    return {
        "id": str(report.id),
        "title": report.title,
        "description": report.description,
        "category": report.category,
        "lat": report.lat,
        "lon": report.lon,
        "status": report.status,
        "created_at": report.created_at.isoformat(),
    }
