"""``/v1/auth``, ``/v1/me``, ``/v1/admin/users`` and ``/v1/staff/directory``: accounts, sign-in (OAuth2 token
endpoint), sessions, and the staff of a department by name."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Form, Header, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pymongo.errors import PyMongoError
from redis.exceptions import LockError, RedisError

from snapfix_gateway.catalogue import CatalogueDep
from snapfix_gateway.deps import (
    AccountsDep,
    AdminDep,
    PrincipalDep,
    RequestIdDep,
    SessionsDep,
    SettingsDep,
    StaffDep,
    TokensDep,
)
from snapfix_gateway.identity import directory
from snapfix_gateway.identity.accounts import Accounts, ChangeConflict, EmailTaken, InvalidEmail
from snapfix_gateway.identity.admin_changes import change_account, known_departments
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.pages import page, prefers_html, to_web_app
from snapfix_gateway.identity.passwords import MAX_LENGTH, MIN_LENGTH, WeakPassword
from snapfix_gateway.identity.sessions import RefreshRejected, Sessions, began_before
from snapfix_gateway.identity.user_admin import InvalidChange, InvalidCursor, Order, SelfLockout
from snapfix_gateway.routes import privacy
from snapfix_shared.messages import Role
from snapfix_shared.messages.issues import DepartmentCode
from snapfix_shared.problems import Problem, ServiceUnavailable

log = logging.getLogger(__name__)
router = APIRouter(tags=["accounts"])
router.include_router(privacy.router)  # /v1/me/export and DELETE /v1/me

DisplayName = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[str, Field(min_length=3, max_length=320)]
# As long as the policy takes (snapfix_gateway.identity.passwords): the schema and the check agree.
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "ada@example.org", "password": "violet-harbour-71-lantern", "display_name": "Ada"}]
        },
    )

    email: Email
    password: Password
    display_name: DisplayName


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


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.org"}]})

    email: Email


class RegistrationAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = (
        "Check your inbox: a message to this address says how to go on. Then sign in with POST /v1/auth/token."
    )


class EmailVerified(BaseModel):
    status: Literal["verified"] = "verified"


class PasswordResetAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = "If an account uses this address, a link to choose a new password is on its way."


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "the token from the link", "new_password": "amber-falcon-38-meadow"}]
        },
    )

    token: str = Field(min_length=10, max_length=200)
    new_password: Password


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


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires")


def _identity_store_down(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"Accounts cannot be reached right now ({type(exc).__name__}).")


async def _account_of_refresh(accounts: Accounts, sessions: Sessions, refresh_token: str) -> Account | None:
    """The account of the session, as it is now (None: no such session, which rotate() refuses).

    A session that began before its account's last password reset (or its disabling) is over,
    even if ending it in Redis failed then (or a sign-in raced it); a disabled account refreshes
    nothing. Checked before the token is used up, so that a store that cannot be reached (503)
    leaves the client its refresh token.
    """
    session_id = refresh_token.partition(".")[0]
    current = await sessions.get(session_id)
    if current is None:
        return None
    account = await accounts.get(current.user_id)
    if account is not None and account.disabled and not account.deleted:
        await sessions.revoke(session_id)
        raise _disabled()
    if account is None or account.deleted or began_before(session_id, account.sessions_valid_after):
        await sessions.revoke(session_id)
        raise _invalid_grant("The session has ended. Sign in again.")
    return account


async def _unless_disabled_meanwhile(accounts: Accounts, sessions: Sessions, account: Account, session_id: str) -> None:
    """A disabling that landed between the password check and the new session: that session ends now.

    The session is listed under its user before this read: a disabling written after the read
    finds it (revoke_all), one written before it is seen here.
    """
    now = await accounts.get(str(account.id))
    if now is None or now.disabled:
        await sessions.revoke(session_id)
        raise _disabled() if now is not None else _invalid_grant("The e-mail address or the password is wrong.")


def _disabled() -> Problem:
    return Problem(
        403,
        "Forbidden",
        "This account is disabled: it cannot sign in. An administrator can enable it again.",
        extra={"error": "account_disabled"},
        headers={"Cache-Control": "no-store"},
    )


def _invalid_grant(detail: str) -> Problem:
    # RFC 6749 §5.2's error code, inside an RFC 9457 problem.
    return Problem(400, "Bad Request", detail, extra={"error": "invalid_grant"}, headers={"Cache-Control": "no-store"})


async def _create(
    accounts: AccountsDep,
    body: RegisterRequest,
    request_id: str,
    *,
    role: Role = "citizen",
    departments: list[str] | None = None,
    actor_id: str | None = None,
    publish: bool = True,
) -> Account:
    """Create an account; raises EmailTaken for the caller to answer (or not) as it must."""
    try:
        return await accounts.register(
            body.email,
            body.password,
            body.display_name,
            correlation_id=request_id,
            role=role,
            departments=departments or [],
            actor_id=actor_id,
            publish=publish,
        )
    except InvalidEmail as exc:
        raise Problem(
            422, "Unprocessable Content", str(exc), extra={"errors": [{"field": "email", "message": str(exc)}]}
        ) from exc
    except WeakPassword as exc:
        raise _weak_password(exc, "password") from exc
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc


async def _tell_owner(accounts: AccountsDep, email: str, request_id: str) -> None:
    try:
        await accounts.registration_attempted(email, correlation_id=request_id)
    except PyMongoError as exc:  # the answer is sent already; only the owner's notice is lost
        log.warning("registration attempt %s not noted: %r", request_id, exc)


@router.post(
    "/v1/auth/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationAccepted,
    responses={422: {"description": "Invalid e-mail or weak password"}},
)
async def register(
    body: RegisterRequest, accounts: AccountsDep, request_id: RequestIdDep, background: BackgroundTasks
) -> RegistrationAccepted:
    """Create a citizen account; a link to confirm the address is sent to it. Then sign in.

    The answer is the same, after the same work, whether the address is new or has an account
    already (OWASP: no account enumeration): in that case nothing is created and the address's
    owner is told by e-mail that someone tried to register it. The events are published after
    the answer is sent.
    """
    try:
        account = await _create(accounts, body, request_id, publish=False)
    except EmailTaken:
        background.add_task(_tell_owner, accounts, body.email, request_id)
    else:
        background.add_task(accounts.publish_pending, account)
    return RegistrationAccepted()


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    responses={
        400: {"description": "invalid_grant / unsupported_grant_type (RFC 6749 §5.2)"},
        403: {"description": "The account is disabled (error: account_disabled)"},
    },
)
async def token(  # noqa: PLR0917 - FastAPI injects by parameter
    accounts: AccountsDep,
    sessions: SessionsDep,
    tokens: TokensDep,
    settings: SettingsDep,
    response: Response,
    grant_type: Annotated[str, Form(description="password or refresh_token")],
    username: Annotated[str | None, Form(description="The e-mail address (grant_type=password)")] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form()] = "",
) -> TokenResponse:
    """OAuth2 token endpoint: sign in with e-mail and password, or exchange a refresh token.

    Refresh tokens rotate: each can be used once. Presenting one that was already used
    revokes the whole session (every token descended from that sign-in). A refresh carries the
    account's role and departments as they are now. A disabled account gets a 403 problem
    (`error: account_disabled`) for either grant, once its password is right.
    """
    response.headers["Cache-Control"] = "no-store"
    try:
        if grant_type == "password":
            if not username or not password:
                raise _invalid_grant("username and password are required.")
            account = await accounts.authenticate(username, password)
            if account is None:
                raise _invalid_grant("The e-mail address or the password is wrong.")
            if account.disabled:  # told only to whoever knows the password
                raise _disabled()
            session_id, refresh = await sessions.create(str(account.id), account.role, tuple(account.departments))
            await _unless_disabled_meanwhile(accounts, sessions, account, session_id)
            user_id, role, departments = str(account.id), account.role, tuple(account.departments)
        elif grant_type == "refresh_token":
            if not refresh_token:
                raise _invalid_grant("refresh_token is required.")
            account_now = await _account_of_refresh(accounts, sessions, refresh_token)
            try:
                principal, refresh = await sessions.rotate(refresh_token)
            except RefreshRejected as exc:
                detail = {
                    "reused": "This refresh token was used before; the session is revoked. Sign in again.",
                    "missing": "The session has ended. Sign in again.",
                }.get(exc.outcome, "The refresh token is not valid.")
                raise _invalid_grant(detail) from exc
            session_id, user_id = principal.session_id, principal.user_id
            # The account's role and departments now: an administrator's change applies from here on.
            role, departments = (
                (account_now.role, tuple(account_now.departments))
                if account_now is not None and str(account_now.id) == user_id
                else (principal.role, principal.departments)
            )
        else:
            raise Problem(
                400,
                "Bad Request",
                f"grant_type {grant_type!r} is not supported.",
                extra={"error": "unsupported_grant_type"},
            )
    except (PyMongoError, RedisError) as exc:
        raise _identity_store_down(exc) from exc
    return TokenResponse(
        access_token=tokens.issue(user_id, session_id, role=role, departments=departments),
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_s,
    )


@router.post("/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: PrincipalDep, sessions: SessionsDep) -> Response:
    """End this session now: its access and refresh tokens stop working at once."""
    try:
        await sessions.revoke(principal.session_id)
    except RedisError as exc:
        raise _identity_store_down(exc) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/auth/verify-email",
    response_model=EmailVerified,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "Verified (an HTML page when the client prefers HTML)",
        },
        303: {"description": "To the web app, for a browser, when SNAPFIX_WEB_BASE_URL is set"},
        404: {"description": "Unknown or used link"},
    },
)
async def verify_email(
    accounts: AccountsDep,
    request_id: RequestIdDep,
    settings: SettingsDep,
    token: Annotated[str, Query(min_length=10, max_length=200)],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The link sent by e-mail: marks the address verified.

    A browser (``Accept`` ranking HTML above JSON) gets a page, or is sent to the web app when
    there is one (which then calls this with ``Accept: application/json``).
    """
    browser = prefers_html(accept)
    if browser and settings.web_base_url:
        return to_web_app(settings.web_base_url, "verify-email", token)
    try:
        verified = await accounts.verify_email(token, correlation_id=request_id)
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc
    if browser:
        if not verified:
            return page("link_invalid.html", 404, detail=_VERIFY_INVALID, retry="")
        return page("email_verified.html")
    if not verified:
        raise Problem(404, "Not Found", _VERIFY_INVALID)
    return JSONResponse(EmailVerified().model_dump(), headers={"Cache-Control": "no-store"})


_VERIFY_INVALID = "This verification link is not valid (or was used already)."
_RESET_INVALID = "This password-reset link is not valid: it expired or was used already."
_RESET_RETRY = "Ask for a new link in the app (Forgot password); it works for an hour, once."


async def _request_reset(accounts: AccountsDep, email: str, request_id: str) -> None:
    try:
        await accounts.request_password_reset(email, correlation_id=request_id)
    except PyMongoError as exc:  # the answer is sent already; the user may ask again
        log.warning("password reset request %s not stored: %r", request_id, exc)


@router.post("/v1/auth/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=PasswordResetAccepted)
async def request_password_reset(
    body: PasswordResetRequest, accounts: AccountsDep, request_id: RequestIdDep, background: BackgroundTasks
) -> PasswordResetAccepted:
    """Send a link to choose a new password (valid for an hour, once) to the address, if an account uses it.

    The answer is the same, and as quick, whether the account exists or not: the lookup
    and the e-mail happen after it is sent.
    """
    background.add_task(_request_reset, accounts, body.email, request_id)
    return PasswordResetAccepted()


@router.get(
    "/v1/auth/password-reset",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The form"},
        303: {"description": "To the web app, when SNAPFIX_WEB_BASE_URL is set"},
    },
)
async def password_reset_page(
    settings: SettingsDep, token: Annotated[str, Query(min_length=10, max_length=200)]
) -> Response:
    """Where the e-mailed link leads a browser: a form to choose the new password (or the web app).

    The token is checked when the form is sent, not here: a page view never uses it up.
    """
    if settings.web_base_url:
        return to_web_app(settings.web_base_url, "password-reset", token)
    return page("password_reset.html", token=token, error="")


@router.post("/v1/auth/password-reset/form", include_in_schema=False)
async def password_reset_form(
    accounts: AccountsDep,
    sessions: SessionsDep,
    token: Annotated[str, Form(min_length=10, max_length=200)],
    new_password: Annotated[str, Form(min_length=1, max_length=128)],
) -> Response:
    """The form of that page: sets the new password as ``/v1/auth/password-reset/confirm`` does, answering HTML."""
    try:
        outcome = await _reset(accounts, sessions, token, new_password)
    except WeakPassword as exc:
        return page("password_reset.html", 422, token=token, error=f"The password is too weak: {exc}")
    if outcome is None:
        return page("link_invalid.html", 400, detail=_RESET_INVALID, retry=_RESET_RETRY)
    return page("password_reset_done.html")


async def _reset(accounts: AccountsDep, sessions: SessionsDep, token: str, new_password: str) -> Account | None:
    """Set the password and end every session of the account (None: the token is not valid).

    Raises WeakPassword; a store that cannot be reached answers 503.
    """
    try:
        account = await accounts.reset_password(token, new_password)
    except PyMongoError as exc:
        raise _identity_store_down(exc) from exc
    if account is None:
        return None
    try:
        await sessions.revoke_all(str(account.id))
    except RedisError as exc:
        # The password changed already; sessions stay until Redis is back: say so rather than pretend.
        raise _identity_store_down(exc) from exc
    return account


@router.post(
    "/v1/auth/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": "Invalid, expired or used token"}, 422: {"description": "Weak password"}},
)
async def confirm_password_reset(body: PasswordResetConfirm, accounts: AccountsDep, sessions: SessionsDep) -> Response:
    """Choose a new password with the token of a reset link. Every session of the account ends."""
    try:
        account = await _reset(accounts, sessions, body.token, body.new_password)
    except WeakPassword as exc:
        raise _weak_password(exc, "new_password") from exc
    if account is None:
        raise Problem(400, "Bad Request", _RESET_INVALID)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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


def _unprocessable(field: str, message: str) -> Problem:
    return Problem(422, "Unprocessable Content", message, extra={"errors": [{"field": field, "message": message}]})


def _weak_password(exc: WeakPassword, field: str) -> Problem:
    return Problem(
        422,
        "Unprocessable Content",
        f"The password is too weak: {exc}",
        extra={"errors": [{"field": field, "message": str(exc)}]},
    )
