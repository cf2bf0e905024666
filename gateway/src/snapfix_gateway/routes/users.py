"""``/v1/me``, ``/v1/admin/users`` and ``/v1/staff/directory``: the signed-in account, the administrators'
user list and changes, and the staff of a department by name."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pymongo.errors import PyMongoError
from redis.exceptions import LockError, RedisError

from snapfix_gateway.catalogue import CatalogueDep
from snapfix_gateway.deps import AccountsDep, AdminDep, PrincipalDep, RequestIdDep, SessionsDep, StaffDep
from snapfix_gateway.identity import directory
from snapfix_gateway.identity.account_admin import ChangeConflict
from snapfix_gateway.identity.accounts import EmailTaken
from snapfix_gateway.identity.admin_changes import change_account, known_departments
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.user_admin import InvalidChange, InvalidCursor, Order, SelfLockout
from snapfix_gateway.routes.account_problems import _identity_store_down, _unprocessable
from snapfix_gateway.routes.registration import RegisterRequest, _create
from snapfix_shared.messages import Role
from snapfix_shared.messages.issues import DepartmentCode
from snapfix_shared.problems import Problem

router = APIRouter()


class CreateUserRequest(RegisterRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "road.crew@city.example",
                    "password": "granite-otter-52-compass",
                    "display_name": "Road crew",
                    "role": "staff",
                    "departments": ["roads"],
                }
            ]
        },
    )

    role: Role = "staff"
    departments: list[DepartmentCode] = Field(default_factory=list, max_length=20)


class UserView(BaseModel):
    id: UUID
    email: str
    display_name: str
    role: Role
    departments: list[str]
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> UserView:
        return cls.model_validate(account.model_dump())


class AdminUserView(UserView):
    disabled: bool = Field(description="Cannot sign in; every session ended when it was set")

    @classmethod
    def of(cls, account: Account) -> AdminUserView:
        return cls.model_validate(account.model_dump())

    @classmethod
    def listed(cls, row: dict[str, Any]) -> AdminUserView:
        return cls.model_validate({**row, "id": row["_id"], "disabled": bool(row.get("disabled"))})


class UserPage(BaseModel):
    items: list[AdminUserView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page (same order); null at the end")


class ChangeUserRequest(BaseModel):
    """Any of the three; a field left out stays as it is. Demoting to citizen clears the departments."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"departments": ["roads", "traffic"]}, {"disabled": True}]},
    )

    role: Role | None = None
    departments: list[DepartmentCode] | None = Field(default=None, max_length=20)
    # Strict: `0` or `"no"` is a mistake to refuse, not a boolean to guess (as the document says).
    disabled: StrictBool | None = None


class StaffMember(BaseModel):
    id: UUID
    display_name: str
    departments: list[str]


class StaffDirectory(BaseModel):
    items: list[StaffMember] = Field(
        description=f"By name; at most {directory.MAX_STAFF}; no contact data", max_length=directory.MAX_STAFF
    )


@router.get("/v1/me", response_model=UserView, tags=["me"])
async def me(principal: PrincipalDep, accounts: AccountsDep) -> UserView:
    try:
        account = await accounts.get(principal.user_id)
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc
    if account is None:
        raise Problem(404, "Not Found", "This account no longer exists.")
    return UserView.of(account)


@router.post(
    "/v1/admin/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserView,
    tags=["admin"],
    responses={403: {"description": "Not an administrator"}, 409: {"description": "E-mail taken"}},
)
async def create_user(
    body: CreateUserRequest, admin: AdminDep, accounts: AccountsDep, sessions: SessionsDep, request_id: RequestIdDep
) -> UserView:
    """Create a staff member (with departments) or another administrator."""
    if body.role == "staff" and not body.departments:
        raise Problem(
            422,
            "Unprocessable Content",
            "Staff belong to at least one department.",
            extra={"errors": [{"field": "departments", "message": "at least one department"}]},
        )
    try:
        account = await _create(
            accounts, body, request_id, role=body.role, departments=list(body.departments), actor_id=admin.user_id
        )
    except EmailTaken as exc:  # an administrator may know which addresses have accounts
        raise Problem(409, "Conflict", "An account with this e-mail address exists already.") from exc
    await directory.forget(sessions.redis, account.departments)
    return UserView.of(account)


@router.get(
    "/v1/admin/users",
    response_model=UserPage,
    tags=["admin"],
    responses={403: {"description": "Not an administrator"}, 422: {"description": "Bad filter or cursor"}},
)
async def list_users(  # noqa: PLR0917 - FastAPI injects by parameter
    _admin: AdminDep,
    accounts: AccountsDep,
    response: Response,
    role: Annotated[Role | None, Query(description="Only accounts with this role")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=320, description="The start of the e-mail address (any case)")
    ] = None,
    sort: Annotated[Order, Query(description="`newest` accounts first, or by `email` address")] = "newest",
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> UserPage:
    """A page of accounts, with whether each is disabled: the administrators' user list.

    Read from the accounts store (not a read model): an administrator's screen, a page at a time.
    """
    response.headers["Cache-Control"] = "no-store"
    try:
        rows, next_cursor = await accounts.list_users(role=role, q=q, order=sort, cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise _unprocessable("cursor", str(exc)) from exc
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc
    return UserPage(items=[AdminUserView.listed(row) for row in rows], next_cursor=next_cursor)


@router.patch(
    "/v1/admin/users/{user_id}",
    response_model=AdminUserView,
    tags=["admin"],
    responses={
        403: {"description": "Not an administrator"},
        404: {"description": "No such account"},
        409: {"description": "An administrator disabling or demoting themselves"},
        422: {"description": "Staff without a department, a citizen with one, or an unknown department"},
    },
)
async def change_user(  # noqa: PLR0917 - FastAPI injects by parameter
    user_id: Annotated[UUID, Path()],
    body: ChangeUserRequest,
    admin: AdminDep,
    accounts: AccountsDep,
    sessions: SessionsDep,
    catalogue: CatalogueDep,
    request_id: RequestIdDep,
) -> AdminUserView:
    """Change an account's role, departments or access; each change is announced (`UserUpdated`).

    Disabling ends every session of the account at once, and the account can no longer sign in
    or refresh. A new role or new departments apply at the account's next token refresh (access
    tokens are short-lived). New departments must be those of the catalogue's categories. The
    same change twice changes nothing the second time.
    """
    try:
        outcome = await change_account(
            accounts,
            sessions,
            str(user_id),
            actor_id=admin.user_id,
            correlation_id=request_id,
            role=body.role,
            departments=body.departments,
            disabled=body.disabled,
            known=known_departments(catalogue.loaded, catalogue.all()),
        )
    except SelfLockout as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    except InvalidChange as exc:
        raise _unprocessable(exc.field, str(exc)) from exc
    except (ChangeConflict, LockError) as exc:
        raise Problem(409, "Conflict", "The account is being changed by another request; try again.") from exc
    except (PyMongoError, RedisError) as exc:
        # After the store was changed: the account is changed (and refreshes obey it), its sessions
        # not yet: say so rather than pretend.
        raise _identity_store_down(exc) from exc
    if outcome is None:
        raise Problem(404, "Not Found", f"No account {user_id}.")
    account, _ = outcome
    return AdminUserView.of(account)


@router.get(
    "/v1/staff/directory",
    response_model=StaffDirectory,
    tags=["staff"],
    responses={
        403: {"description": "Not staff, or staff of another department"},
        422: {"description": "No department, or not a department code"},
    },
)
async def staff_directory(
    principal: StaffDep,
    sessions: SessionsDep,
    response: Response,
    department: Annotated[DepartmentCode, Query(description="The department's code (required)")],
) -> StaffDirectory:
    """The staff of a department (staff and administrators, not disabled), by name: whom to assign an issue to.

    Ids and names only, no contact data. Staff read their own departments; administrators any.
    Kept for about 30 seconds (a change of an account shows at once for the departments it touches).
    """
    if not directory.may_read(principal.role, principal.departments, department):
        raise Problem(403, "Forbidden", f"Only staff of {department} (or administrators) may list its staff.")
    response.headers["Cache-Control"] = "no-store"  # kept by the gateway, which clears it on a change
    try:
        found = await directory.staff_of(Account.get_pymongo_collection(), sessions.redis, department)
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc
    return StaffDirectory.model_validate({"items": found})
