"""Reporting and uploading photos with an unverified e-mail address (``SNAPFIX_REQUIRE_VERIFIED_EMAIL``).

When the setting is on (the default with ``SNAPFIX_ENVIRONMENT=production``), a citizen must have
followed the link e-mailed at registration before ``POST /v1/issues`` or ``POST /v1/media``:
only a reachable person may put reports and photos in front of the city and its public.
Staff and administrators are exempt (an administrator made their accounts and vouches for them).

Verification is never undone, so each process remembers who it has seen verified (a bounded
set): a verified reporter costs one read of the accounts per process, and keeps reporting while
the accounts database is down. Anyone else is then answered 503, never let through unchecked.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request
from pymongo.errors import PyMongoError

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import AccountsDep, PrincipalDep, SettingsDep
from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.sessions import Principal
from snapfix_shared.problems import Problem, ServiceUnavailable

Action = Literal["report", "upload"]

_WHAT = {"report": "reporting an issue", "upload": "uploading photos"}


class VerifiedUsers:
    """Ids of users this process has read with a verified address, the oldest forgotten past ``capacity``."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: dict[str, None] = {}  # insertion-ordered: the first key is the oldest

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, user_id: str) -> None:
        if user_id in self._ids:
            return
        if len(self._ids) >= self.capacity:
            del self._ids[next(iter(self._ids))]
        self._ids[user_id] = None


def unverified_detail(action: Action) -> str:
    """The 403's ``detail``: what was refused and what the user should do."""
    return (
        f"Verify your e-mail address before {_WHAT[action]}: follow the link in the e-mail we sent when you "
        "registered (check its spam folder), then try again."
    )


async def require_verified_email(
    principal: Principal, accounts: Accounts, settings: GatewaySettings, action: Action, seen: VerifiedUsers
) -> None:
    """Raise a 403 problem when ``action`` needs a verified address and this citizen has none (503: unknown now)."""
    if not settings.verified_email_required or principal.is_staff or principal.user_id in seen:
        return
    try:
        account = await accounts.get(principal.user_id)
    except PyMongoError as exc:
        raise ServiceUnavailable("Accounts cannot be read right now.") from exc
    if account is None or not account.email_verified:
        # no-store: not kept for the request's Idempotency-Key, so the same request succeeds once verified.
        raise Problem(403, "Forbidden", unverified_detail(action), headers={"Cache-Control": "no-store"})
    seen.add(principal.user_id)


def verified_users(request: Request) -> VerifiedUsers:
    """The process's (the app's) set, made on first use."""
    state = request.app.state
    if getattr(state, "verified_users", None) is None:
        state.verified_users = VerifiedUsers()
    seen: VerifiedUsers = state.verified_users
    return seen


async def reporter_verified(
    principal: PrincipalDep, accounts: AccountsDep, settings: SettingsDep, request: Request
) -> None:
    await require_verified_email(principal, accounts, settings, "report", verified_users(request))


async def uploader_verified(
    principal: PrincipalDep, accounts: AccountsDep, settings: SettingsDep, request: Request
) -> None:
    await require_verified_email(principal, accounts, settings, "upload", verified_users(request))


# Route parameters (``_verified: ReporterVerifiedDep``), declared first: they refuse before the route's other work.
ReporterVerifiedDep = Annotated[None, Depends(reporter_verified)]
UploaderVerifiedDep = Annotated[None, Depends(uploader_verified)]
