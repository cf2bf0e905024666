"""``POST /v1/auth/register``: a citizen creates an account (answered alike whether the address is new or not)."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, status
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import PyMongoError

from snapfix_gateway.deps import AccountsDep, RequestIdDep
from snapfix_gateway.identity.accounts import EmailTaken, InvalidEmail
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.passwords import MAX_LENGTH, MIN_LENGTH, WeakPassword
from snapfix_gateway.routes.account_problems import _identity_store_down, _weak_password
from snapfix_shared.messages import Role
from snapfix_shared.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter()

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


class RegistrationAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = (
        "Check your inbox: a message to this address says how to go on. Then sign in with POST /v1/auth/token."
    )


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
