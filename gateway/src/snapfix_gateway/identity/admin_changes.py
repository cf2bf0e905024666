"""An administrator's change to an account, whole: the store, the staff directory and the sessions.

What ``PATCH /v1/admin/users/{id}`` does, and ``snapfix users`` with it (one code path): the
account is changed (``Accounts.change``: written with its ``UserUpdated`` in the outbox, then
published), its departments' cached staff lists are dropped, and its sessions follow (disabling
ends them all; a new role or new departments go into the live ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from snapfix_gateway.identity import directory
from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.sessions import Sessions
from snapfix_gateway.identity.user_admin import Change
from snapfix_shared.messages import Role
from snapfix_shared.messages.catalogue import CategorySpec

# How long an administrator's change of one account holds its lock at most, and how long another waits for it.
CHANGE_LOCK_S = 10.0
CHANGE_LOCK_WAIT_S = 5.0


def known_departments(loaded: bool, categories: Iterable[CategorySpec]) -> set[str] | None:
    """The departments a change may name: those of the catalogue's categories (None: not checked).

    Checked once the catalogue has any: a new city may set up its staff before its first
    category exists (an empty catalogue names no department to refuse).
    """
    known = {spec.department for spec in categories} if loaded else None
    return known or None


async def change_account(
    accounts: Accounts,
    sessions: Sessions,
    user_id: str,
    *,
    actor_id: str,
    correlation_id: str,
    role: Role | None = None,
    departments: Sequence[str] | None = None,
    disabled: bool | None = None,
    known: set[str] | None = None,
) -> tuple[Account, Change] | None:
    """Change the account and everything that follows it; None when there is no such account.

    Raises SelfLockout, InvalidChange, ChangeConflict, redis LockError (another change holds
    the account), PyMongoError and RedisError (a RedisError after the store was changed: the
    account is changed and refreshes obey it, its sessions not yet; the same change again
    completes it).
    """
    # One change of an account at a time, in every replica: FerretDB applies a conditional
    # update_one as a read then a write, so concurrent changes could all pass the store's own
    # check (measured: five identical PATCHes, four events). The lock lapses by itself.
    async with sessions.redis.lock(
        f"gw:user:{{{user_id}}}:change", timeout=CHANGE_LOCK_S, blocking_timeout=CHANGE_LOCK_WAIT_S
    ):
        outcome = await accounts.change(
            user_id,
            actor_id=actor_id,
            correlation_id=correlation_id,
            role=role,
            departments=departments,
            disabled=disabled,
            known_departments=known,
        )
    if outcome is None:
        return None
    account, change = outcome
    if change.changed:  # its departments' staff lists, before and after, are read again
        await directory.forget(sessions.redis, [*change.previous_departments, *change.departments])
    # Also when nothing changed: a retry of a change whose sessions part failed completes it.
    if change.disabled and disabled:
        await sessions.revoke_all(str(account.id))
    elif role is not None or departments is not None:
        await sessions.update_claims(str(account.id), change.role, change.departments)
    return account, change
