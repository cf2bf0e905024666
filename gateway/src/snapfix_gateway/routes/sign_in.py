"""``POST /v1/auth/token`` (the OAuth2 token endpoint: password and refresh-token grants) and
``POST /v1/auth/logout``: sessions begin, rotate and end here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Response, status
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from snapfix_gateway.deps import AccountsDep, PrincipalDep, SessionsDep, SettingsDep, TokensDep
from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.sessions import RefreshRejected, Sessions, began_before
from snapfix_gateway.routes.account_problems import _disabled, _identity_store_down, _invalid_grant
from snapfix_shared.problems import Problem

router = APIRouter()


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires")


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
    # OAuth2's password grant form has a scope (RFC 6749 4.3.2); SnapFix grants none, so it is taken and ignored.
    scope: Annotated[str, Form()] = "",  # noqa: ARG001
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
