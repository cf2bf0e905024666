"""The viewer contract between SnapFix processes: who is asking, proven, not claimed.

The gateway authenticates the user; every call it makes to a service carries a short-lived
internal token (a JWT, HS256, audience ``snapfix-internal``, about 60 s) in the
``Authorization: Bearer`` header, with the viewer as claims: ``sub`` (user id; absent for
an anonymous visitor of the gateway), ``role`` and ``dep`` (departments). A service reads
its viewer only from that token (the dependencies below), never from plain headers: a call
to a service port without a valid token, or with the former ``x-snapfix-user/role/departments``
headers, is a 401 wherever a viewer is needed. Public reads need none and stay open.

A service that calls another (issues checking photos with media) mints its own token the same
way (``iss`` is the minting process). HS256 with one secret shared by every SnapFix process
(``SNAPFIX_INTERNAL_TOKEN_SECRET``): every process already trusts the others, the services must
mint tokens for their own calls too, and verifying costs about a third of EdDSA's. Minted tokens
are reused for half their lifetime, and verified tokens remembered until they expire, so
neither side signs or verifies on every request.

Commands on Kafka carry ``actor_proof``: an HMAC (a key derived from the same secret) over the
command's type, id, aggregate key and actor (id, role, departments). The consumer verifies it
when it applies the command, minutes later perhaps, so the proof has no expiry; a command whose
actor is not proven goes to the dead-letter topic and never takes effect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar, get_args

import jwt
from fastapi import Depends, Request

from snapfix_shared.messages.base import Command, Role
from snapfix_shared.problems import Problem
from snapfix_shared.settings import DEV_INTERNAL_TOKEN_SECRET, ProcessSettings

__all__ = ["AUDIENCE", "DEV_INTERNAL_TOKEN_SECRET", "InternalTokens", "InvalidInternalToken", "Viewer"]

log = logging.getLogger(__name__)

AUDIENCE = "snapfix-internal"
ALGORITHM = "HS256"
TOKEN_LIFETIME_S = 60
# A minted token is handed out again for this long, so it has at least 30 s left when sent.
TOKEN_REUSE_S = 30
CLOCK_LEEWAY_S = 10
MAX_REMEMBERED = 10_000  # tokens minted, and tokens verified, kept per process
LEGACY_HEADERS = ("x-snapfix-user", "x-snapfix-role", "x-snapfix-departments")
_ROLES = frozenset(get_args(Role))
_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, as the gateway authenticated them; ``user_id`` None is anonymous."""

    user_id: str | None = None
    role: Role | None = None
    departments: frozenset[str] = frozenset()

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None

    @property
    def is_staff(self) -> bool:
        return self.role in {"staff", "admin"}

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def staff_of(self, department: str | None) -> bool:
        return self.role == "admin" or (self.role == "staff" and department in self.departments)


class Actor(Protocol):
    """Anything that names a viewer (the gateway's ``Principal``, a ``Viewer``)."""

    @property
    def user_id(self) -> str | None: ...
    @property
    def role(self) -> Role | None: ...
    @property
    def departments(self) -> Iterable[str]: ...


class InvalidInternalToken(Exception):
    """The token is missing its claims, signed with another key, for another audience, or expired."""


C = TypeVar("C", bound=Command)


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


class InternalTokens:
    """Mints and verifies internal tokens, and signs and verifies commands' actors, for one process."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str,
        previous_secrets: Sequence[str] = (),
        lifetime_s: int = TOKEN_LIFETIME_S,
        reuse_s: int = TOKEN_REUSE_S,
    ) -> None:
        if reuse_s >= lifetime_s:
            raise ValueError("a token must be reused for less than its lifetime")
        self.issuer, self.lifetime_s, self.reuse_s = issuer, lifetime_s, reuse_s
        secrets = [secret, *previous_secrets]
        # Separate keys per use: a token can never pass for a command's proof, nor the reverse.
        self._token_keys = [_derive(s, b"snapfix-internal-token/v1") for s in secrets]
        self._command_keys = [_derive(s, b"snapfix-command-actor/v1") for s in secrets]
        self._minted: dict[tuple[str | None, str | None, tuple[str, ...]], tuple[str, float]] = {}
        self._verified: dict[str, tuple[Viewer, float]] = {}

    # -- tokens ---------------------------------------------------------------------------

    def mint(self, actor: Actor | None) -> str:
        """A token for ``actor`` (None: anonymous), reused while it has more than half its life left."""
        key = (None, None, ()) if actor is None else (actor.user_id, actor.role, tuple(actor.departments))
        now = time.time()
        found = self._minted.get(key)
        if found is not None and found[1] > now:
            return found[0]
        claims: dict[str, Any] = {
            "aud": AUDIENCE,
            "iss": self.issuer,
            "iat": int(now),
            "exp": int(now) + self.lifetime_s,
        }
        if key[0] is not None:
            claims["sub"] = key[0]
        if key[1] is not None:
            claims["role"] = key[1]
        if key[2]:
            claims["dep"] = list(key[2])
        token = jwt.encode(claims, self._token_keys[0], algorithm=ALGORITHM)
        _remember(self._minted, key, (token, now + self.reuse_s))
        return token

    def headers(self, actor: Actor | None) -> dict[str, str]:
        """The ``Authorization`` header of a call made for ``actor``."""
        return {"authorization": f"Bearer {self.mint(actor)}"}

    def verify(self, token: str) -> Viewer:
        """The viewer a valid token names; ``InvalidInternalToken`` otherwise."""
        now = time.time()
        found = self._verified.get(token)
        if found is not None and found[1] > now - CLOCK_LEEWAY_S:
            return found[0]
        claims = self._decode(token)
        role, departments, sub = claims.get("role"), claims.get("dep", []), claims.get("sub")
        if (
            (role is not None and role not in _ROLES)
            or not isinstance(departments, list)
            or not all(isinstance(d, str) for d in departments)
            or (sub is not None and not isinstance(sub, str))
        ):
            raise InvalidInternalToken("the token's viewer claims are malformed")
        viewer = Viewer(user_id=sub or None, role=role, departments=frozenset(departments))
        _remember(self._verified, token, (viewer, float(claims["exp"])))
        return viewer

    def _decode(self, token: str) -> dict[str, Any]:
        error: Exception | None = None
        for key in self._token_keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[ALGORITHM],
                    audience=AUDIENCE,
                    leeway=CLOCK_LEEWAY_S,
                    options={"require": ["exp", "iat", "aud", "iss"]},
                )
            except jwt.InvalidSignatureError as exc:  # perhaps signed before a key rotation
                error = exc
            except jwt.PyJWTError as exc:
                raise InvalidInternalToken(str(exc)) from exc
        raise InvalidInternalToken(str(error))

    # -- commands' actors -----------------------------------------------------------------

    def sign_command(self, command: C) -> C:
        """The command with ``actor_proof`` over its type, id, aggregate and actor."""
        return command.model_copy(update={"actor_proof": self.command_proof(command)})

    def command_proof(self, command: Command) -> str:
        """The ``actor_proof`` a command with this type, id, aggregate and actor is signed with
        (its other fields are not covered: a copy with them changed keeps the proof)."""
        return _proof(self._command_keys[0], command)

    def command_verified(self, command: Command) -> bool:
        """Whether the command's actor is the one the gateway signed (no expiry: it may wait in Kafka)."""
        proof = command.actor_proof
        if not proof:
            return False
        return any(hmac.compare_digest(proof, _proof(key, command)) for key in self._command_keys)


def _proof(key: bytes, command: Command) -> str:
    fields = (
        command.type,  # type: ignore[attr-defined]  # every concrete command has its Literal type
        str(command.version),
        str(command.message_id),
        command.partition_key(),
        command.actor_id or "",
        command.actor_role or "",
        ",".join(sorted(command.actor_departments)),
    )
    digest = hmac.digest(key, "\0".join(fields).encode(), "sha256")  # one call into OpenSSL
    return "v1." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _remember(store: dict[Any, Any], key: Any, value: Any) -> None:
    if key not in store and len(store) >= MAX_REMEMBERED:
        del store[next(iter(store))]  # the oldest entry: the dict keeps insertion order
    store[key] = value


# -- the process's tokens ---------------------------------------------------------------------

_process_tokens: InternalTokens | None = None


def use(tokens: InternalTokens) -> None:
    """Make ``tokens`` the process's (``snapfix_shared.runtime.Runtime`` does it at start)."""
    global _process_tokens  # noqa: PLW0603 - one signer per process, as one secret per process
    _process_tokens = tokens


def process_tokens() -> InternalTokens:
    """The process's tokens; built from the environment when no Runtime set them (scripts, tests)."""
    if _process_tokens is None:
        use(from_settings(ProcessSettings(), issuer="snapfix"))
    assert _process_tokens is not None
    return _process_tokens


def from_settings(settings: ProcessSettings, *, issuer: str) -> InternalTokens:
    """Tokens from ``internal_token_secret`` (and ``internal_token_previous_secret``), warning on the dev default."""
    secret = settings.internal_token_secret.get_secret_value()
    if secret == DEV_INTERNAL_TOKEN_SECRET:
        log.warning("SNAPFIX_INTERNAL_TOKEN_SECRET is not set: using the development secret (never in production)")
    previous = settings.internal_token_previous_secret
    return InternalTokens(secret, issuer=issuer, previous_secrets=[previous.get_secret_value()] if previous else [])


# -- FastAPI dependencies of the services -----------------------------------------------------


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": f'Bearer realm="{AUDIENCE}"'})


def _token_of(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if value is None or value[:7].lower() != _BEARER:
        return None
    return value[7:].strip() or None


def _verified(request: Request) -> Viewer | None:
    """The token's viewer; None without a token. A bad token, or viewer headers without one: 401."""
    token = _token_of(request)
    if token is None:
        headers = request.headers
        if any(name in headers for name in LEGACY_HEADERS):
            raise _unauthorized("Viewer headers are not accepted: the viewer travels in the gateway's internal token.")
        return None
    tokens: InternalTokens = getattr(request.app.state, "internal_tokens", None) or process_tokens()
    try:
        return tokens.verify(token)
    except InvalidInternalToken as exc:
        raise _unauthorized(f"The internal token is not valid ({exc}).") from exc


async def optional_viewer(request: Request) -> Viewer:
    """Public reads: the token's viewer, or anonymous without one."""
    return _verified(request) or Viewer()


async def internal_caller(request: Request) -> Viewer:
    """Routes only SnapFix processes call: a valid token (its viewer may be anonymous), else 401."""
    viewer = _verified(request)
    if viewer is None:
        raise _unauthorized("This route answers SnapFix processes only: an internal token is required.")
    return viewer


async def signed_in(request: Request) -> Viewer:
    """A signed-in user, from a valid token; 401 otherwise."""
    viewer = _verified(request)
    if viewer is None or viewer.user_id is None:
        raise _unauthorized("A signed-in user is required (the gateway's internal token).")
    return viewer


async def staff(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """Staff or an administrator; 403 for anyone else signed in."""
    if not viewer.is_staff:
        raise Problem(403, "Forbidden", "This is for staff.")
    return viewer


async def admin(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """An administrator; 403 for anyone else signed in."""
    if not viewer.is_admin:
        raise Problem(403, "Forbidden", "This is for administrators.")
    return viewer


OptionalViewerDep = Annotated[Viewer, Depends(optional_viewer)]
InternalCallerDep = Annotated[Viewer, Depends(internal_caller)]
SignedInDep = Annotated[Viewer, Depends(signed_in)]
StaffDep = Annotated[Viewer, Depends(staff)]
AdminDep = Annotated[Viewer, Depends(admin)]


async def signed_in_user(viewer: SignedInDep) -> str:
    """The signed-in user's id (routes about the caller's own things)."""
    assert viewer.user_id is not None
    return viewer.user_id


async def admin_user(viewer: AdminDep) -> str:
    """An administrator's user id."""
    assert viewer.user_id is not None
    return viewer.user_id


UserIdDep = Annotated[str, Depends(signed_in_user)]
AdminUserDep = Annotated[str, Depends(admin_user)]
