"""Contracts of the notify domain: ``notify.events.v1``.

Keyed by the recipient, so one person's notification outcomes stay in order. Only what
an operator or analyst needs: never an address, never the message body.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from snapfix_shared.messages.base import Event

ChannelName = Annotated[str, Field(min_length=1, max_length=32, description="email, in_app, push, webhook, ...")]


class NotifyEventBase(Event):
    recipient_id: str = Field(
        min_length=1, max_length=128, description="The user the notification was for (a webhook's: its endpoint id)"
    )

    def partition_key(self) -> str:
        return self.recipient_id


class NotificationFailed(NotifyEventBase):
    """A notification that will never be delivered: the provider refused it for good, or it
    could not be delivered within its retry allowance. Recorded, never silently dropped."""

    type: Literal["NotificationFailed"] = "NotificationFailed"
    notification_key: str = Field(min_length=1, max_length=300, description="Unique per (event, recipient, channel)")
    channel: ChannelName
    moment: str = Field(min_length=1, max_length=64, description="What it was about, e.g. status_changed")
    cause_id: str = Field(min_length=1, max_length=128, description="The event (or sweep) that caused it")
    attempts: int = Field(ge=0)
    reason: Literal["permanent", "exhausted", "no_address"] = Field(
        description="permanent: the provider refused it; exhausted: transient failures outlasted the retries; "
        "no_address: the recipient has no address on this channel"
    )
    error: str = Field(max_length=1000, description="The provider's answer, as text")
    endpoint_id: str | None = Field(
        default=None, max_length=128, description="For channel webhook: the integrator's endpoint (no user recipient)"
    )


NotifyEvent = Annotated[NotificationFailed, Field(discriminator="type")]
NOTIFY_EVENTS: TypeAdapter[NotifyEvent] = TypeAdapter(NotifyEvent)
