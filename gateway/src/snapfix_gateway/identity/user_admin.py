"""The rules of an administrator's change to an account, and the cursor of the user list (pure: no I/O).

A change names any of ``role``, ``departments`` and ``disabled``; what it would leave equal
is not a change (the same PATCH twice changes nothing the second time). Staff belong to at
least one department, citizens to none (demoting to citizen clears them). An administrator
can neither disable nor demote themselves: the last administrator could lock everyone out.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from snapfix_shared.messages import Role

Field = Literal["role", "departments", "disabled"]
Order = Literal["newest", "email"]


class SelfLockout(Exception):
    """An administrator tried to disable or demote themselves (409)."""


class InvalidChange(ValueError):
    """The change would leave the account in a state that is not allowed (422): ``field`` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Current:
    """What a change is judged against: the account as stored."""

    user_id: str
    role: Role
    departments: tuple[str, ...]
    disabled: bool


@dataclass(frozen=True)
class Change:
    """The account after the change, and the fields that differ from before (empty: nothing to do)."""

    role: Role
    departments: tuple[str, ...]
    disabled: bool
    changed: tuple[Field, ...] = field(default_factory=tuple)
    previous_departments: tuple[str, ...] = ()  # before the change (whose staff lists it touches)


def plan_change(
    current: Current,
    *,
    actor_id: str,
    role: Role | None = None,
    departments: Sequence[str] | None = None,
    disabled: bool | None = None,
    known_departments: Collection[str] | None = None,
) -> Change:
    """The account after the change. Raises SelfLockout or InvalidChange.

    ``known_departments``: the departments of the catalogue's categories, when known; a
    department the account does not have yet must be one of them (None: not checked).
    """
    new_role = role if role is not None else current.role
    new_disabled = disabled if disabled is not None else current.disabled
    new_departments = _departments_after(current, new_role, departments)
    if actor_id == current.user_id and (new_disabled or new_role != "admin"):
        raise SelfLockout("An administrator cannot disable or demote their own account.")
    _check_departments(new_role, new_departments, current.departments, known_departments)
    differs: tuple[tuple[Field, bool], ...] = (
        ("role", new_role != current.role),
        ("departments", new_departments != tuple(sorted(current.departments))),
        ("disabled", new_disabled != current.disabled),
    )
    return Change(
        role=new_role,
        departments=new_departments,
        disabled=new_disabled,
        changed=tuple(name for name, changed in differs if changed),
        previous_departments=current.departments,
    )


def _departments_after(current: Current, new_role: Role, departments: Sequence[str] | None) -> tuple[str, ...]:
    if departments is not None:
        return tuple(sorted(set(departments)))
    if new_role == "citizen":
        return ()  # a citizen belongs to no department
    return current.departments


def _check_departments(
    new_role: Role,
    new_departments: tuple[str, ...],
    current_departments: tuple[str, ...],
    known_departments: Collection[str] | None,
) -> None:
    """Staff belong to a department or more, a citizen to none; a department new to the account must be known."""
    if new_role == "staff" and not new_departments:
        raise InvalidChange("departments", "Staff belong to at least one department.")
    if new_role == "citizen" and new_departments:
        raise InvalidChange("departments", "A citizen belongs to no department.")
    if known_departments is None:
        return
    unknown = sorted(set(new_departments) - set(current_departments) - set(known_departments))
    if unknown:
        raise InvalidChange(
            "departments",
            f"No category of the catalogue belongs to {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known_departments)) or 'none'}).",
        )


# -- the user list ----------------------------------------------------------------------

_PREFIX = {"newest": "n", "email": "e"}


class InvalidCursor(ValueError):
    pass


def encode_cursor(order: Order, last: dict[str, Any]) -> str:
    """Where the next page starts: after the last user of this one, in this order (opaque to clients)."""
    key = str(last["_id"]) if order == "newest" else str(last["email"])
    return f"{_PREFIX[order]}.{base64.urlsafe_b64encode(key.encode()).decode().rstrip('=')}"


def decode_cursor(order: Order, cursor: str) -> UUID | str:
    """The last key of the previous page; raises InvalidCursor (another order's cursor, or none of ours)."""
    prefix, _, encoded = cursor.partition(".")
    if prefix != _PREFIX[order]:
        raise InvalidCursor("This cursor belongs to another order (or to no list of users).")
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        return UUID(key) if order == "newest" else key
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("This cursor is not one of ours.") from exc


def list_query(role: Role | None, q: str | None, order: Order, after: UUID | str | None) -> dict[str, Any]:
    """The Mongo filter of a page: the role, the e-mail prefix (addresses are stored lower-case) and the cursor."""
    query: dict[str, Any] = {}
    if role is not None:
        query["role"] = role
    email: dict[str, Any] = {}
    if q:
        email["$regex"] = "^" + re.escape(q.strip().lower())  # anchored: MongoDB walks the e-mail index
    if after is not None:
        if order == "newest":
            query["_id"] = {"$lt": after}  # UUIDv7: a smaller id is an older account
        else:
            email["$gt"] = after
    if email:
        query["email"] = email
    return query


def list_sort(order: Order) -> list[tuple[str, int]]:
    return [("_id", -1)] if order == "newest" else [("email", 1)]
