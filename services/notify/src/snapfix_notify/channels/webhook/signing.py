"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets and signed headers.

The signature is computed by the maintained ``standardwebhooks`` library; this module
only makes secrets in the spec's ``whsec_`` format and assembles the three headers.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret
SECRET_BYTES = 24  # the spec asks for 24 to 64 random bytes


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(secret: str, webhook_id: str, body: str, *, at: datetime | None = None) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one attempt of ``body``.

    The id stays the same across retries of one delivery; the timestamp (and so the
    signature) is the attempt's own, so receivers' replay windows keep working.
    """
    at = (at or datetime.now(UTC)).astimezone(UTC)
    timestamp = int(at.timestamp())
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=datetime.fromtimestamp(timestamp, UTC), data=body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
