"""The envelope every SnapFix message carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from uuid_utils.compat import uuid7


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """Frozen, strict envelope. Within a version, change is additive only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Reverse-DNS prefix for the CloudEvents ``ce_type`` attribute.
    ce_type_prefix: ClassVar[str] = "dev.snapfix"

    message_id: UUID = Field(default_factory=uuid7, description="UUIDv7, unique per message")
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    correlation_id: str = Field(min_length=1, max_length=128, description="The originating HTTP request id")
    causation_id: str | None = Field(default=None, max_length=128, description="The message that caused this one")
    actor_id: str | None = Field(default=None, max_length=128, description="The acting user, where there is one")

    def partition_key(self) -> str:
        """The aggregate id: one aggregate's messages share a partition and stay in order."""
        raise NotImplementedError


Role = Literal["citizen", "staff", "admin"]


class Command(Message):
    """An imperative message with exactly one owner."""

    actor_role: Role | None = Field(default=None, description="The acting user's role, as authenticated")
    actor_departments: tuple[str, ...] = Field(default=(), description="The acting staff member's departments")
    actor_proof: str | None = Field(
        default=None,
        max_length=128,
        description=(
            "The sender's HMAC over the command's type, id, aggregate and actor (snapfix_shared.viewer): "
            "a consumer applies no command whose actor it cannot verify"
        ),
    )

    accept_by: AwareDatetime | None = Field(
        default=None,
        description=(
            "The sender stops waiting for the broker's acknowledgement at this instant and "
            "reports failure; a command appended to the log after it must not take effect."
        ),
    )


class Event(Message):
    """A past-tense fact; any number of consumers."""
