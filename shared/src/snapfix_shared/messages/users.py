"""Contracts of user accounts (owned by the gateway): ``users.events.v1``.

Only what other services need: who the user is, how to reach them, their role.
Never a password hash, never a session.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from snapfix_shared.messages.base import Event, Role


class UserEventBase(Event):
    user_id: UUID

    def partition_key(self) -> str:
        return str(self.user_id)


class UserRegistered(UserEventBase):
    type: Literal["UserRegistered"] = "UserRegistered"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)
    role: Role
    departments: tuple[str, ...] = ()


class EmailVerificationRequested(UserEventBase):
    """Send ``verify_url`` to ``email``; following it marks the address verified."""

    type: Literal["EmailVerificationRequested"] = "EmailVerificationRequested"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)
    verify_url: str = Field(max_length=2000)


class PasswordResetRequested(UserEventBase):
    """Send ``reset_url`` to ``email``; following it (within its expiry, once) sets a new password."""

    type: Literal["PasswordResetRequested"] = "PasswordResetRequested"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)
    reset_url: str = Field(max_length=2000)


class UserEmailVerified(UserEventBase):
    type: Literal["UserEmailVerified"] = "UserEmailVerified"


UserEvent = Annotated[
    UserRegistered | EmailVerificationRequested | UserEmailVerified | PasswordResetRequested,
    Field(discriminator="type"),
]
USER_EVENTS: TypeAdapter[UserEvent] = TypeAdapter(UserEvent)
