"""Access tokens: short-lived JWTs per RFC 8725 (one pinned algorithm; iss, aud, exp, iat required).

A token names its session (``sid``) and carries the role and departments the session
had when it was issued (``role``, ``dep``): the gateway serves on the verified claims,
refusing sessions its in-process revocation set names (``revocations.py``), so logout
and revocation take effect on every replica within a second without a Redis call.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105  # RFC 9068: refuse other JWTs signed with the same key
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "sid"]
LEEWAY_S = 5  # clock skew allowed on exp and iat
# Tokens whose signature and claims each process remembers having verified (about 0.5 kB each).
VERIFIED_KEPT = 16_384
# The request scope's state key for (token, Claims) once verified: verified once per request.
VERIFIED_TOKEN = "verified_token"  # noqa: S105 - a scope key, not a secret


@dataclass(frozen=True)
class Claims:
    user_id: str
    session_id: str
    role: str | None = None
    departments: tuple[str, ...] = ()


class InvalidToken(Exception):
    pass


class TokenCodec:
    def __init__(self, secret: str, *, issuer: str, audience: str, ttl_s: int) -> None:
        self._secret, self.issuer, self.audience, self.ttl_s = secret, issuer, audience, ttl_s
        self._verified = functools.lru_cache(maxsize=VERIFIED_KEPT)(self._verify_signed)

    def issue(
        self,
        user_id: str,
        session_id: str,
        *,
        role: str | None = None,
        departments: tuple[str, ...] = (),
        now: float | None = None,
    ) -> str:
        iat = int(now if now is not None else time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "sid": session_id,
            "iat": iat,
            "exp": iat + self.ttl_s,
        }
        if role is not None:
            claims["role"], claims["dep"] = role, list(departments)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def verify(self, token: str) -> Claims:
        """The token's claims, if its signature, type, issuer and audience hold and it has not expired.

        A client sends the same token for up to ``ttl_s``, so what does not change with time (the
        signature and the claims) is checked once per token and remembered (``VERIFIED_KEPT`` of
        them, least recently used forgotten); the expiry is checked on every call. A token whose
        signature or claims fail is never remembered.
        """
        claims, expires_at = self._verified(token)
        if expires_at <= time.time() - LEEWAY_S:
            raise InvalidToken("Signature has expired")
        return claims

    def _verify_signed(self, token: str) -> tuple[Claims, int]:
        try:
            if jwt.get_unverified_header(token).get("typ") != TOKEN_TYPE:
                raise InvalidToken("not an access token")
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": _REQUIRED, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        try:  # as PyJWT reads it
            expires_at = int(claims["exp"])
        except (ValueError, TypeError, OverflowError):
            raise InvalidToken("Expiration Time claim (exp) must be an integer.") from None
        role = claims.get("role")
        departments = claims.get("dep") or []
        verified = Claims(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            role=role if isinstance(role, str) else None,
            departments=tuple(str(d) for d in departments) if isinstance(departments, list) else (),
        )
        return verified, expires_at
