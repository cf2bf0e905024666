"""``/v1/me/export`` and ``DELETE /v1/me``: a user's rights over their own data (GDPR art. 15, 17 and 20).

The export is composed here from the owners of the data, each asked through its internal API
with the user's own viewer token: the account (the gateway's), the reports, comments, votes and
follows (the issues service's ``/v1/users/{id}/export``) and the notifications, preferences,
area watches and push devices (notify's ``/v1/users/{id}/export``). Each owner's part is
documented by the owner's model (``snapfix_shared.schemas.issues.IssuesPart``,
``snapfix_shared.schemas.notify.NotifyPart``) and embedded as the owner sent it: a field an owner
adds is neither an error nor dropped from the user's data. It is all or nothing: an owner that
does not hand over its part (a JSON object) makes it a 503, never a partial file.

Deleting needs the current password in the body (not a recent sign-in: a stolen access token
alone must not erase an account, and the password proves the person is at the keyboard now).
The account becomes a tombstone without personal data, every session ends, and ``UserDeleted``
goes out on ``users.events.v1``: each service erases or anonymises what it holds (docs/operations.md,
"Privacy"). Administrators cannot delete themselves (the city would lose its last administrator);
another administrator demotes them first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from snapfix_gateway.deps import AccountsDep, IssuesHttpDep, PrincipalDep, RequestIdDep, SessionsDep
from snapfix_gateway.identity import directory
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.passwords import MAX_LENGTH
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.upstream import Upstream, viewer_headers
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.schemas.issues import IssuesPart
from snapfix_shared.schemas.notify import NotifyPart

log = logging.getLogger(__name__)
router = APIRouter(tags=["me"])

EXPORT_FORMAT = 1


async def get_notify(request: Request) -> Upstream:
    return request.app.state.notify_http  # type: ignore[no-any-return]


NotifyDep = Annotated[Upstream, Depends(get_notify)]


class DeleteAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"password": "your current password"}]})

    password: str = Field(min_length=1, max_length=MAX_LENGTH, description="The account's current password")


class ExportedAccount(BaseModel):
    id: str
    email: str
    display_name: str
    role: str
    departments: list[str]
    email_verified: bool
    created_at: datetime


class DataExport(BaseModel):
    """The export file. Each service's part is as that service sent it: a field a service adds
    appears in it before this document names it."""

    format: int = Field(description=f"The layout of this file ({EXPORT_FORMAT})")
    exported_at: datetime
    account: ExportedAccount
    issues: IssuesPart
    notifications: NotifyPart


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    503: {"description": "An owner of the data is unavailable; retry after Retry-After"},
}


def _store_down(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"Accounts cannot be reached right now ({type(exc).__name__}).")


async def _own_account(accounts: AccountsDep, principal: Principal) -> Account:
    try:
        account = await accounts.get(principal.user_id)
    except PyMongoError as exc:
        raise _store_down(exc) from exc
    if account is None or account.deleted:
        raise Problem(404, "Not Found", "This account no longer exists.")
    return account


async def _part(upstream: Upstream, principal: Principal, request_id: str, model: type[BaseModel]) -> orjson.Fragment:
    """The owner's part of the export, as it sent it (an object; the JSON is passed on unchanged).

    It is not read into ``model`` (strict: extra fields forbidden): a field the owner added would
    turn the user's export into an error, or be dropped from it. One the model does not document
    is logged, so the document catches up."""
    answer = await upstream.call(
        "GET", f"/v1/users/{principal.user_id}/export", headers=viewer_headers(request_id, principal)
    )
    if answer.status != 200:
        log.warning("export of %s: %s answered %d", principal.user_id, upstream.name, answer.status)
        raise ServiceUnavailable(f"The {upstream.name} service did not hand over its part ({answer.status}).")
    try:
        part = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        part = None
    if not isinstance(part, dict):
        log.warning("export of %s: %s answered a part that is not a JSON object", principal.user_id, upstream.name)
        raise ServiceUnavailable(f"The {upstream.name} service handed over a malformed part.")
    try:
        model.model_validate(part)
    except ValidationError as exc:
        log.warning(
            "export of %s: %s's part differs from %s (passed on as sent): %s",
            principal.user_id,
            upstream.name,
            model.__name__,
            exc.errors(include_url=False, include_input=False)[:5],
        )
    return orjson.Fragment(answer.body)


@router.get(
    "/v1/me/export",
    response_model=DataExport,
    responses={
        200: {
            "description": "A JSON file (Content-Disposition: attachment)",
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        },
        404: {"description": "The account no longer exists"},
        **_ERRORS,
    },
)
async def export_my_data(
    principal: PrincipalDep,
    accounts: AccountsDep,
    issues: IssuesHttpDep,
    notify: NotifyDep,
    request_id: RequestIdDep,
) -> Response:
    """Download everything SnapFix holds about you, as one JSON file: your account (never the password's
    hash), your reports, comments, votes and follows, your notifications, preferences, area watches and
    push devices.

    An expensive read: limited per user (`SNAPFIX_RATE_LIMIT_EXPORT`, 5 per hour by default), never cached."""
    account = await _own_account(accounts, principal)
    issues_part = await _part(issues, principal, request_id, IssuesPart)
    notify_part = await _part(notify, principal, request_id, NotifyPart)
    exported_at = datetime.now(UTC)
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": exported_at,
        "account": ExportedAccount.model_validate({**account.model_dump(), "id": str(account.id)}).model_dump(
            mode="json"
        ),
        "issues": issues_part,
        "notifications": notify_part,
    }
    stamp = exported_at.strftime("%Y%m%d")
    return Response(
        orjson.dumps(document, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="snapfix-export-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.delete(
    "/v1/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        204: {"description": "Deleted: every session has ended"},
        403: {"description": "Wrong password (error: wrong_password)"},
        404: {"description": "The account no longer exists"},
        409: {"description": "An administrator cannot delete their own account"},
        422: {"description": "No password in the body"},
        **_ERRORS,
    },
)
async def delete_my_account(
    body: DeleteAccountRequest,
    principal: PrincipalDep,
    accounts: AccountsDep,
    sessions: SessionsDep,
    request_id: RequestIdDep,
) -> Response:
    """Delete your account, with your current password in the body.

    Your address, name and password are erased at once and every session ends (this token stops
    working); the address may register a new account. Every service then erases what it holds about
    you: notifications, preferences, area watches, devices, votes, follows and the e-mails sent to you.
    Your reports and comments stay public, without your name or contact (anonymised); photos of reports
    you withdrew and photos no report uses are deleted. Export your data first if you want to keep it."""
    account = await _own_account(accounts, principal)
    if account.role == "admin":
        raise Problem(
            409, "Conflict", "An administrator's account cannot delete itself: another administrator demotes it first."
        )
    try:
        right = await accounts.passwords.verify(account.password_hash, body.password)
    except PyMongoError as exc:
        raise _store_down(exc) from exc
    if not right:
        raise Problem(403, "Forbidden", "The password is wrong.", extra={"error": "wrong_password"})
    try:
        await accounts.delete(account, correlation_id=request_id)
    except PyMongoError as exc:
        raise _store_down(exc) from exc
    if account.departments:  # a staff member leaves their departments' directory
        await directory.forget(sessions.redis, account.departments)
    try:
        await sessions.revoke_all(str(account.id))
    except RedisError as exc:
        # Deleted already (and every refresh is refused: sessions_valid_after); its sessions end when Redis is back.
        raise _store_down(exc) from exc
    log.info("account %s deleted by its owner", account.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"})
