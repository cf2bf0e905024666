"""Secrets that travel in URL query strings, masked in whatever text leaves the process (log
lines, span attributes): e-mailed tokens, Open311 ``api_key``, upload signatures, presigned
storage URLs. The parameter stays, with its value replaced, so a URL still says what it was
(``expires`` and the other non-secret parameters are kept as they are).
"""

from __future__ import annotations

import re

MASK = "REDACTED"
SECRET_PARAMETERS = (
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "signature",
    "sig",
    "secret",
    "password",
    "code",
    # Presigned S3 and GCS URLs.
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "awsaccesskeyid",
    "x-goog-signature",
    "x-goog-credential",
)
# name=value where name starts the string (url.query) or follows ? & or ; and the value runs to the
# next separator, whitespace, quote or angle bracket (the end of a URL inside a sentence or JSON).
_PARAMETER = re.compile(
    r"(?P<lead>^|[?&;])(?P<name>" + "|".join(re.escape(p) for p in SECRET_PARAMETERS) + r")=[^&;#\s\"'<>\\]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``REDACTED``."""
    if "=" not in text:
        return text
    return _PARAMETER.sub(lambda m: f"{m['lead']}{m['name']}={MASK}", text)
