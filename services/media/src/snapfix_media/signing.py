"""Signed, expiring upload URLs: an HMAC-SHA256 over the media id, its owner and the expiry.

The owner is part of what is signed, so a URL presented by anyone but the user it was
issued to fails verification. One-time use is enforced separately (Redis, ``api.py``).
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID


class UploadSigner:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def sign(self, media_id: UUID, owner_id: str, expires: int) -> str:
        message = f"upload\n{media_id}\n{owner_id}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, media_id: UUID, owner_id: str, expires: int, signature: str) -> bool:
        # compare_digest refuses str with non-ASCII characters (TypeError): such a signature
        # is simply not ours. ASCII is compared in constant time.
        if not signature.isascii():
            return False
        return hmac.compare_digest(self.sign(media_id, owner_id, expires), signature)
