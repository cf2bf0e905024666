"""What the e-mailed links lead to: ``/v1/auth/verify-email`` (confirm the address) and
``/v1/auth/password-reset`` (ask for a link, its page and form, and the confirmation with its token)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Form, Header, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from snapfix_gateway.deps import AccountsDep, RequestIdDep, SessionsDep, SettingsDep
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.pages import page, prefers_html, to_web_app
from snapfix_gateway.identity.passwords import WeakPassword
from snapfix_gateway.routes.account_problems import _identity_store_down, _weak_password
from snapfix_gateway.routes.registration import Email, Password
from snapfix_shared.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter()


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.org"}]})

    email: Email


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
