"""Request-scoped dependencies of the gateway's routes: clients, the request id, the signed-in user."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from prometheus_client import Counter
from redis.exceptions import RedisError

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.accounts import Accounts
from snapfix_gateway.identity.revocations import Revocations
from snapfix_gateway.identity.sessions import Principal, Sessions
from snapfix_gateway.identity.tokens import VERIFIED_TOKEN, InvalidToken, TokenCodec
from snapfix_gateway.upstream import Upstream
from snapfix_shared.breakers import REDIS_DOWN, CircuitOpen
from snapfix_shared.messages.base import Role
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.runtime import Runtime

SESSIONS_DEGRADED = Counter(
    "snapfix_gateway_sessions_degraded_total", "Requests authenticated on token claims alone while Redis was down"
)
SESSIONS_CHECKED = Counter(
    "snapfix_gateway_sessions_checked_total",
    "Requests whose session was looked up in Redis because the revocation feed was not fresh",
)
_ROLES = ("citizen", "staff", "admin")

# Gives the OpenAPI document its security scheme and Swagger UI its Authorize button.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_issues_http(request: Request) -> Upstream:
    return request.app.state.issues_http  # type: ignore[no-any-return]


async def get_media_http(request: Request) -> Upstream:
    return request.app.state.media_http  # type: ignore[no-any-return]


async def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # type: ignore[no-any-return]


async def get_sessions(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


async def get_revocations(request: Request) -> Revocations:
    return request.app.state.revocations  # type: ignore[no-any-return]


async def get_tokens(request: Request) -> TokenCodec:
    return request.app.state.tokens  # type: ignore[no-any-return]


async def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def get_optional_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    """The signed-in user, or None without a token. A bad or revoked token is a 401, never anonymous.

    The verified token speaks for its session while the revocation feed is fresh (no Redis
    call). When the feed is not, the session is looked up in Redis, as the feed could be
    hiding a revocation; when Redis does not answer either, ``sessions_when_redis_down`` decides.
    The process's codec, sessions, revocation set and settings are read from the app's state,
    not as dependencies of their own: every signed-in route resolves this one (FastAPI's solver
    costs about as much per dependency as this whole function).
    """
    if token is None:
        return None
    state = request.app.state
    tokens: TokenCodec = state.tokens
    sessions: Sessions = state.sessions
    revocations: Revocations = state.revocations
    runtime: Runtime = state.runtime
    settings: GatewaySettings = state.settings
    verified = getattr(request.state, VERIFIED_TOKEN, None)  # by the rate limiter, for this request
    if verified is not None and verified[0] == token:
        claims = verified[1]
    else:
        try:
            claims = tokens.verify(token)
        except InvalidToken as exc:
            raise unauthorized(f"The access token is not valid ({exc}).") from exc
    if claims.role not in _ROLES:
        raise unauthorized("The access token names no role; sign in again.")
    if revocations.is_revoked(claims.session_id):
        raise unauthorized("The session has ended; sign in again.")
    claimed = Principal(
        user_id=claims.user_id,
        role=cast("Role", claims.role),
        departments=claims.departments,
        session_id=claims.session_id,
    )
    if revocations.fresh:
        return claimed
    SESSIONS_CHECKED.inc()
    try:
        async with runtime.breakers.guard("redis", REDIS_DOWN):
            principal = await sessions.get(claims.session_id)
    except (RedisError, CircuitOpen) as exc:
        if settings.sessions_when_redis_down == "token" and claimed.role != "admin":
            # Degraded: the signed claims stand in for the session until Redis is back;
            # revocations known before the outage still hold. Not for administrators: a
            # session revoked meanwhile could act on every account, so admin work waits.
            SESSIONS_DEGRADED.inc()
            return claimed
        raise ServiceUnavailable("Sessions cannot be checked right now.") from exc
    if principal is None or principal.user_id != claims.user_id:
        raise unauthorized("The session has ended; sign in again.")
    return principal


async def get_principal(principal: Annotated[Principal | None, Depends(get_optional_principal)]) -> Principal:
    if principal is None:
        raise Problem(401, "Unauthorized", "Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def get_staff(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_staff:
        raise Problem(403, "Forbidden", "Only the city's staff may do this.")
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.role != "admin":
        raise Problem(403, "Forbidden", "Only administrators may do this.")
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
IssuesHttpDep = Annotated[Upstream, Depends(get_issues_http)]
MediaHttpDep = Annotated[Upstream, Depends(get_media_http)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]
RevocationsDep = Annotated[Revocations, Depends(get_revocations)]
TokensDep = Annotated[TokenCodec, Depends(get_tokens)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
StaffDep = Annotated[Principal, Depends(get_staff)]
AdminDep = Annotated[Principal, Depends(get_admin)]
