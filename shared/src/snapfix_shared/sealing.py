"""Sealed links: secrets that travel on Kafka encrypted, for the one service that must read them.

A verification or password-reset link holds a token that is as good as the account: it must
not sit in clear on ``users.events.v1`` (kept 30 days, read by every consumer and by whoever
reads the brokers' disks). The gateway seals the link with Fernet (AES-128-CBC and
HMAC-SHA256, from ``cryptography``) under ``SNAPFIX_LINK_SEAL_KEY``, a key only the gateway
and notify hold; notify unseals it only to render the e-mail, so its own records keep the
sealed form too.

``SNAPFIX_LINK_SEAL_KEY`` is one or more Fernet keys separated by commas (make one with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``):
the first seals, every one unseals, so a key is rotated by putting the new one first and
dropping the old one once the links sealed with it have expired.
"""

from __future__ import annotations

import logging
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import AfterValidator, SecretStr

log = logging.getLogger(__name__)

# Only for a laptop: `make run` and the tests. A deployment sets SNAPFIX_LINK_SEAL_KEY to its own
# key(s), the same for the gateway and notify; a process using this one logs a warning.
DEV_LINK_SEAL_KEY = "c25hcGZpeC1sb2NhbC1saW5rLXNlYWwta2V5LWRldjA="


class LinkNotUnsealed(ValueError):
    """A sealed link that none of the keys opens (another key, or altered)."""


def _fernets(keys: str) -> list[Fernet]:
    return [Fernet(key.strip()) for key in keys.split(",") if key.strip()]


def _valid_keys(value: SecretStr) -> SecretStr:
    try:
        fernets = _fernets(value.get_secret_value())
    except ValueError as exc:
        raise ValueError(
            "SNAPFIX_LINK_SEAL_KEY must be Fernet keys (32 url-safe base64-encoded bytes each), comma-separated"
        ) from exc
    if not fernets:
        raise ValueError("SNAPFIX_LINK_SEAL_KEY must hold at least one Fernet key")
    return value


LinkSealKey = Annotated[SecretStr, AfterValidator(_valid_keys)]
"""The settings field's type: validated when the settings load, so a bad key stops the start."""


class LinkSeal:
    def __init__(self, keys: SecretStr | str) -> None:
        raw = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
        if raw.split(",")[0].strip() == DEV_LINK_SEAL_KEY:
            log.warning("SNAPFIX_LINK_SEAL_KEY is not set: using the development key (never in production)")
        self._fernet = MultiFernet(_fernets(raw))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def unseal(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise LinkNotUnsealed("the sealed link does not open with SNAPFIX_LINK_SEAL_KEY") from exc
