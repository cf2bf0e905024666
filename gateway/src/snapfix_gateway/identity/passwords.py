"""Password policy (zxcvbn: common, breached and guessable patterns) and Argon2id hashing.

Hashing is CPU- and memory-heavy by design, so it runs in worker threads, a few at a time.
"""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 128  # Argon2 takes any length; this bounds zxcvbn's work


class WeakPassword(ValueError):
    """The password is refused; the message says why, in words a user understands."""


def check_strength(password: str, *, user_inputs: list[str], min_score: int) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    result = zxcvbn(password, user_inputs=user_inputs, max_length=MAX_LENGTH)
    if result["score"] < min_score:
        feedback = result["feedback"]
        reasons = [feedback.get("warning") or "This password is too easy to guess.", *feedback.get("suggestions", [])]
        raise WeakPassword(" ".join(r for r in reasons if r))


class Passwords:
    def __init__(self, concurrency: int) -> None:
        self._hasher = PasswordHasher()  # Argon2id, RFC 9106 parameters
        self._limiter = anyio.CapacityLimiter(concurrency)
        # Verified when an account does not exist, so both answers take as long.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(stored_hash or self._decoy, password) and stored_hash is not None
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(verify, limiter=self._limiter)
