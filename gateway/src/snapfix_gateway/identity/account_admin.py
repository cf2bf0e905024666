"""The administrators' part of the accounts: the user list, a page at a time, and a change of role, departments or
access, written only if the account is still as it was read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from snapfix_gateway.identity.account_outbox import AccountOutbox
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.user_admin import (
    Change,
    Current,
    Order,
    decode_cursor,
    encode_cursor,
    list_query,
    list_sort,
    plan_change,
)
from snapfix_shared.messages import Role, UserUpdated

# Attempts at an administrator's change that lost a race with another one before it is refused as a conflict.
CHANGE_ATTEMPTS = 5
# The fields of the user list (never a password hash, a token or the outbox).
LISTED = ("_id", "email", "display_name", "role", "departments", "email_verified", "created_at", "disabled")


class ChangeConflict(Exception):
    """The account kept changing under an administrator's change (other changes won every attempt)."""


class AccountAdmin(AccountOutbox):
    """Reading an account by id, listing and changing accounts (the base of ``Accounts``)."""

    async def get(self, user_id: str) -> Account | None:
        try:
            return await Account.get(UUID(user_id))
        except ValueError:
            return None

    async def list_users(
        self, *, role: Role | None, q: str | None, order: Order, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of accounts (the fields of ``LISTED``) and the cursor of the next (None: the last page).

        Raises InvalidCursor. Keyset paging on ``_id`` (UUIDv7: newest first) or on the e-mail
        address, with indexes declared for MongoDB; FerretDB scans the collection for every page
        (DESIGN.md §4): an administrator's screen, bounded by ``limit``, never a hot path.
        """
        after = decode_cursor(order, cursor) if cursor else None
        query = {**list_query(role, q, order, after), "deleted": {"$ne": True}}  # never a deleted account's tombstone
        found = (
            await Account.get_pymongo_collection()
            .find(query, dict.fromkeys(LISTED, 1))
            .sort(list_sort(order))
            .limit(limit + 1)
            .to_list()
        )
        page = found[:limit]
        return page, (encode_cursor(order, page[-1]) if len(found) > limit and page else None)

    async def change(
        self,
        user_id: str,
        *,
        actor_id: str,
        correlation_id: str,
        role: Role | None = None,
        departments: Sequence[str] | None = None,
        disabled: bool | None = None,
        known_departments: set[str] | None = None,
    ) -> tuple[Account, Change] | None:
        """Apply an administrator's change (None: no such account); announces it as ``UserUpdated``.

        Written only if the account is still as it was read (another change meanwhile: read and
        judged again), with its event in the outbox. Disabling also ends, in the store, every
        session begun before it (``sessions_valid_after``): the caller ends them in Redis.
        A change that changes nothing writes and announces nothing.
        Raises SelfLockout, InvalidChange, ChangeConflict.
        """
        for _ in range(CHANGE_ATTEMPTS):
            account = await self.get(user_id)
            if account is None:
                return None
            current = Current(
                user_id=str(account.id),
                role=account.role,
                departments=tuple(sorted(account.departments)),
                disabled=account.disabled,
            )
            change = plan_change(
                current,
                actor_id=actor_id,
                role=role,
                departments=departments,
                disabled=disabled,
                known_departments=known_departments,
            )
            if not change.changed:
                return account, change
            event = UserUpdated(
                correlation_id=correlation_id,
                actor_id=actor_id,
                user_id=account.id,
                role=change.role,
                departments=change.departments,
                disabled=change.disabled,
                changed=change.changed,
            )
            update: dict[str, Any] = {
                "role": change.role,
                "departments": list(change.departments),
                "disabled": change.disabled,
                "outbox_pending": True,
            }
            if "disabled" in change.changed and change.disabled:
                update["sessions_valid_after"] = datetime.now(UTC)
            result = await Account.get_pymongo_collection().update_one(
                {
                    "_id": account.id,
                    "role": account.role,
                    "departments": account.departments,
                    "disabled": True if account.disabled else {"$ne": True},  # absent in accounts older than it
                },
                {"$set": update, "$push": {"outbox": event.model_dump(mode="json")}},
            )
            if result.modified_count:
                await self._flush_stored(account.id)
                stored = await Account.get(account.id)
                return (stored or account), change
        raise ChangeConflict(user_id)
