"""Message contracts: the commands and events SnapFix processes exchange over Kafka."""

from snapfix_shared.messages.base import Command, Event, Message
from snapfix_shared.messages.issues import (
    ISSUE_COMMANDS,
    ISSUE_EVENTS,
    IssueCommand,
    IssueEvent,
    IssueReported,
    Location,
    ReportIssue,
)

__all__ = [
    "ISSUE_COMMANDS",
    "ISSUE_EVENTS",
    "Command",
    "Event",
    "IssueCommand",
    "IssueEvent",
    "IssueReported",
    "Location",
    "Message",
    "ReportIssue",
]
