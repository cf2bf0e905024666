"""The problems the account routes answer with: the store down (503), a disabled account, RFC 6749's
``invalid_grant``, a field refused (422)."""

from __future__ import annotations

from snapfix_gateway.identity.passwords import WeakPassword
from snapfix_shared.problems import Problem, ServiceUnavailable


def _identity_store_down(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"Accounts cannot be reached right now ({type(exc).__name__}).")


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


def _unprocessable(field: str, message: str) -> Problem:
    return Problem(422, "Unprocessable Content", message, extra={"errors": [{"field": field, "message": message}]})


def _weak_password(exc: WeakPassword, field: str) -> Problem:
    return Problem(
        422,
        "Unprocessable Content",
        f"The password is too weak: {exc}",
        extra={"errors": [{"field": field, "message": str(exc)}]},
    )
