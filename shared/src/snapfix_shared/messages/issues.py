"""Contracts of the issues domain: ``issues.commands.v1`` and ``issues.events.v1``."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from snapfix_shared.messages.base import Command, Event

Title = Annotated[str, Field(min_length=3, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
CategoryCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class Location(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ReportIssue(Command):
    type: Literal["ReportIssue"] = "ReportIssue"
    issue_id: UUID
    title: Title
    description: Description = ""
    category: CategoryCode
    location: Location

    def partition_key(self) -> str:
        return str(self.issue_id)


class IssueReported(Event):
    type: Literal["IssueReported"] = "IssueReported"
    issue_id: UUID
    title: Title
    description: Description = ""
    category: CategoryCode
    location: Location
    status: Literal["open"] = "open"
    reported_at: AwareDatetime

    def partition_key(self) -> str:
        return str(self.issue_id)


# One union per topic, discriminated on ``type``; new members are added with ``|``.
IssueCommand = Annotated[ReportIssue, Field(discriminator="type")]
IssueEvent = Annotated[IssueReported, Field(discriminator="type")]

ISSUE_COMMANDS: TypeAdapter[IssueCommand] = TypeAdapter(IssueCommand)
ISSUE_EVENTS: TypeAdapter[IssueEvent] = TypeAdapter(IssueEvent)
