"""Contracts of user accounts (owned by the gateway): ``users.events.v1``.

Only what other services need: who the user is, how to reach them, their role.
Never a password hash, never a session, never a link's token in clear: the e-mailed links
travel sealed (``snapfix_shared.sealing``), for notify alone to open when it sends them.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

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


SealedLink = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4000,
        description="A link sealed with SNAPFIX_LINK_SEAL_KEY (Fernet; snapfix_shared.sealing): only notify opens it",
    ),
]


class EmailVerificationRequested(UserEventBase):
    """Send the link sealed in ``verify_url_sealed`` to ``email``; following it marks the address verified."""

    type: Literal["EmailVerificationRequested"] = "EmailVerificationRequested"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)
    verify_url_sealed: SealedLink


class PasswordResetRequested(UserEventBase):
    """Send the link sealed in ``reset_url_sealed`` to ``email``; following it (within its expiry, once) sets a
    new password."""

    type: Literal["PasswordResetRequested"] = "PasswordResetRequested"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)
    reset_url_sealed: SealedLink


class RegistrationAttempted(UserEventBase):
    """Someone tried to register ``email``, which this account uses already: tell its owner (registration
    answers the same either way, so only the owner learns the address is taken)."""

    type: Literal["RegistrationAttempted"] = "RegistrationAttempted"
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=100)


class UserEmailVerified(UserEventBase):
    type: Literal["UserEmailVerified"] = "UserEmailVerified"


class UserUpdated(UserEventBase):
    """An administrator changed the account's role, departments or access: its state after the change, whole.

    ``changed`` names the fields that changed (never empty: a change that changes nothing is not announced).
    ``disabled``: the account cannot sign in, and every session of it has ended.
    """

    type: Literal["UserUpdated"] = "UserUpdated"
    role: Role
    departments: tuple[str, ...] = ()
    disabled: bool = False
    changed: tuple[Literal["role", "departments", "disabled"], ...] = Field(min_length=1)


class UserDeleted(UserEventBase):
    """The user deleted their account (``DELETE /v1/me``): every service erases or anonymises what it holds
    of ``user_id``, idempotently (a replay erases nothing twice and restores nothing).

    It carries no personal data: the gateway has erased the address and the name already (the account
    is left as a tombstone without them, so the address may register again), and each consumer finds
    the user's data by its id. Reports stay public, without their reporter.
    """

    type: Literal["UserDeleted"] = "UserDeleted"
    deleted_at: AwareDatetime


UserEvent = Annotated[
    UserRegistered
    | EmailVerificationRequested
    | UserEmailVerified
    | PasswordResetRequested
    | RegistrationAttempted
    | UserUpdated
    | UserDeleted,
    Field(discriminator="type"),
]
USER_EVENTS: TypeAdapter[UserEvent] = TypeAdapter(UserEvent)
