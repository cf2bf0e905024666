"""Beanie documents of the gateway's identity store (private to the gateway)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from snapfix_shared.messages import Role


class Account(Document):
    """A user account. Intended shard key: ``{_id}`` (lookups by e-mail go through its unique index).

    ``outbox`` holds the user events not yet acknowledged by Kafka; they are published
    right after the write and, should that fail, by the outbox relay later.
    """

    id: UUID  # type: ignore[assignment]  # UUIDv7, not ObjectId
    email: str
    display_name: str
    password_hash: str
    role: Role
    departments: list[str] = Field(default_factory=list)
    email_verified: bool = False
    verify_token_hash: str | None = None
    # The pending password reset (identity/resets.py): the hash of its token and when it lapses.
    reset_token_hash: str | None = None
    reset_expires_at: datetime | None = None
    # Sessions that began before this instant are over (set with each password reset): a
    # refresh checks it, so a reset ends every session even if ending them in Redis failed.
    sessions_valid_after: datetime | None = None
    # Set by an administrator: no sign-in, no refresh (every session ended when it was set).
    disabled: bool = False
    # When the owner was last told that someone tried to register this address again.
    attempt_noticed_at: datetime | None = None
    # The owner deleted the account (DELETE /v1/me): what is left is a tombstone without personal
    # data (its address replaced by ``deleted:<id>``, so the address may register again), kept for
    # its outbox (the UserDeleted event) and so that the id is never handed out again.
    deleted: bool = False
    deleted_at: datetime | None = None
    created_at: datetime
    outbox: list[dict[str, Any]] = Field(default_factory=list)
    outbox_pending: bool = False

    class Settings:
        name = "accounts"
        indexes: ClassVar = [
            IndexModel("email", unique=True),
            IndexModel("verify_token_hash"),
            IndexModel("reset_token_hash"),
            IndexModel("outbox_pending"),
            # The administrators' user list (GET /v1/admin/users): by role, newest first.
            IndexModel([("role", 1), ("_id", -1)]),
            # The staff directory (GET /v1/staff/directory): a department's staff, by name.
            IndexModel([("departments", 1), ("display_name", 1)]),
        ]
