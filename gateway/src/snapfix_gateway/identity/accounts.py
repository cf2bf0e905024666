"""Accounts: registration, sign-in, staff creation, e-mail verification, password reset, and their events.

The account is written first, with its events in an outbox field; the events are then
published (acks=all) and the outbox cleared. A crash or a Kafka outage in between leaves
the outbox pending, and the relay publishes it later, so no user event is lost.

The links e-mailed for verification and password reset go out sealed (``LinkSeal``): their
token is never in clear in the outbox or on ``users.events.v1``.

Registration never tells whether an address is taken: registering one that is gets the same
answer, after the same work (the password is hashed, the insert tried), and its owner is
told by e-mail (``RegistrationAttempted``, at most once per ``ATTEMPT_NOTICE_EVERY``).

``Accounts`` builds on ``AccountAdmin`` (account_admin: the user list and an administrator's change), which
builds on ``AccountOutbox`` (account_outbox: publishing the outbox, and its relay).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from faststream.kafka import KafkaBroker
from pymongo.errors import DuplicateKeyError
from uuid_utils.compat import uuid7

from snapfix_gateway.identity.account_admin import AccountAdmin
from snapfix_gateway.identity.models import Account
from snapfix_gateway.identity.passwords import Passwords, check_strength
from snapfix_gateway.identity.resets import digest, new_reset_token, reset_token_valid
from snapfix_shared.messages import (
    EmailVerificationRequested,
    PasswordResetRequested,
    RegistrationAttempted,
    Role,
    UserDeleted,
    UserEmailVerified,
    UserRegistered,
)
from snapfix_shared.messages.users import UserEvent
from snapfix_shared.sealing import LinkSeal

log = logging.getLogger(__name__)

# The owner of an address hears of attempts to register it again at most this often.
ATTEMPT_NOTICE_EVERY = timedelta(hours=1)


class EmailTaken(Exception):
    pass


class InvalidEmail(ValueError):
    pass


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc


def _now_ms() -> datetime:
    """BSON keeps milliseconds: truncate first, so the answer equals what a later read shows."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Accounts(AccountAdmin):
    def __init__(
        self,
        broker: KafkaBroker,
        passwords: Passwords,
        *,
        source: str,
        publish_timeout_s: float,
        public_base_url: str,
        min_password_score: int,
        link_seal: LinkSeal,
        password_reset_ttl_s: int = 3600,
    ) -> None:
        self.broker, self.passwords, self.source = broker, passwords, source
        self.publish_timeout_s, self.public_base_url = publish_timeout_s, public_base_url.rstrip("/")
        self.min_password_score = min_password_score
        self.password_reset_ttl_s, self.link_seal = password_reset_ttl_s, link_seal

    async def register(
        self,
        email: str,
        password: str,
        display_name: str,
        *,
        correlation_id: str,
        role: Role = "citizen",
        departments: Sequence[str] = (),
        actor_id: str | None = None,
        verified: bool = False,
        publish: bool = True,
    ) -> Account:
        """Create the account; ``publish=False`` leaves its events to ``publish_pending`` (or the relay).

        Raises InvalidEmail, WeakPassword, EmailTaken (after hashing the password all the same).
        """
        email = normalize_email(email)
        check_strength(password, user_inputs=[email, display_name], min_score=self.min_password_score)
        user_id = uuid7()
        token = secrets.token_urlsafe(32)
        base = {"correlation_id": correlation_id, "actor_id": actor_id or str(user_id), "user_id": user_id}
        events: list[UserEvent] = [
            UserRegistered(**base, email=email, display_name=display_name, role=role, departments=tuple(departments))
        ]
        if not verified:
            verify_url = f"{self.public_base_url}/v1/auth/verify-email?token={token}"
            events.append(
                EmailVerificationRequested(
                    **base, email=email, display_name=display_name, verify_url_sealed=self.link_seal.seal(verify_url)
                )
            )
        account = Account(
            id=user_id,
            email=email,
            display_name=display_name,
            password_hash=await self.passwords.hash(password),
            role=role,
            departments=sorted(set(departments)),
            email_verified=verified,
            verify_token_hash=None if verified else digest(token),
            created_at=_now_ms(),
            outbox=[e.model_dump(mode="json") for e in events],
            outbox_pending=True,
        )
        try:
            await account.insert()
        except DuplicateKeyError as exc:
            raise EmailTaken(email) from exc
        if publish:
            await self._flush(account)
        return account

    async def registration_attempted(self, email: str, *, correlation_id: str) -> bool:
        """Tell the owner of ``email`` that someone tried to register it (True when a notice goes out).

        At most one notice per ``ATTEMPT_NOTICE_EVERY``: repeated attempts never flood the owner.
        """
        account = await self.by_email(email)
        if account is None:
            return False
        now = _now_ms()
        event = RegistrationAttempted(
            correlation_id=correlation_id,
            actor_id=str(account.id),
            user_id=account.id,
            email=account.email,
            display_name=account.display_name,
        )
        result = await Account.get_pymongo_collection().update_one(
            {
                "_id": account.id,
                "$or": [
                    {"attempt_noticed_at": None},
                    {"attempt_noticed_at": {"$lt": now - ATTEMPT_NOTICE_EVERY}},
                ],
            },
            {
                "$set": {"attempt_noticed_at": now, "outbox_pending": True},
                "$push": {"outbox": event.model_dump(mode="json")},
            },
        )
        if not result.modified_count:
            return False
        await self._flush_stored(account.id)
        return True

    async def authenticate(self, email: str, password: str) -> Account | None:
        account = await self.by_email(email)
        ok = await self.passwords.verify(account.password_hash if account else None, password)
        return account if ok else None

    async def by_email(self, email: str) -> Account | None:
        """The account with this address (None for none, or for text that is no address)."""
        try:
            return await Account.find_one(Account.email == normalize_email(email))
        except InvalidEmail:
            return None

    async def delete(self, account: Account, *, correlation_id: str) -> Account:
        """Erase the account's personal data, leaving a tombstone, and announce ``UserDeleted``.

        The tombstone keeps the id, the creation time and the outbox; its address becomes
        ``deleted:<id>`` (no address: the address may register again), its name, password hash
        and tokens go, it is disabled, and every session begun before now is over (the caller ends
        them in Redis too). Events still waiting in the outbox are dropped with the rest (they hold
        the address): only ``UserDeleted`` goes out, through the outbox (the relay retries a failed
        publish). Deleting a deleted account changes nothing and publishes what is still pending.
        """
        if account.deleted:
            await self._flush_stored(account.id)
            return account
        now = _now_ms()
        event = UserDeleted(correlation_id=correlation_id, actor_id=str(account.id), user_id=account.id, deleted_at=now)
        await Account.get_pymongo_collection().update_one(
            {"_id": account.id},
            {
                "$set": {
                    "email": f"deleted:{account.id}",
                    "display_name": "",
                    "password_hash": "",
                    "role": "citizen",
                    "departments": [],
                    "email_verified": False,
                    "verify_token_hash": None,
                    "reset_token_hash": None,
                    "reset_expires_at": None,
                    "attempt_noticed_at": None,
                    "disabled": True,
                    "deleted": True,
                    "deleted_at": now,
                    "sessions_valid_after": datetime.now(UTC),
                    "outbox": [event.model_dump(mode="json")],
                    "outbox_pending": True,
                }
            },
        )
        await self._flush_stored(account.id)
        stored = await Account.get(account.id)
        return stored or account

    async def verify_email(self, token: str, *, correlation_id: str) -> bool:
        account = await Account.find_one(Account.verify_token_hash == digest(token))
        if account is None:
            return False
        event = UserEmailVerified(correlation_id=correlation_id, actor_id=str(account.id), user_id=account.id)
        await Account.find_one(Account.id == account.id).update(
            {
                "$set": {"email_verified": True, "verify_token_hash": None, "outbox_pending": True},
                "$push": {"outbox": event.model_dump(mode="json")},
            }
        )
        await self._flush_stored(account.id)
        return True

    async def request_password_reset(self, email: str, *, correlation_id: str) -> bool:
        """Issue a reset link for the account with this address, if any (True when there is one).

        The new token replaces any earlier one; the event goes out through the outbox.
        """
        account = await self.by_email(email)
        if account is None:
            return False
        reset = new_reset_token(_now_ms(), self.password_reset_ttl_s)
        event = PasswordResetRequested(
            correlation_id=correlation_id,
            actor_id=str(account.id),
            user_id=account.id,
            email=account.email,
            display_name=account.display_name,
            reset_url_sealed=self.link_seal.seal(f"{self.public_base_url}/v1/auth/password-reset?token={reset.token}"),
        )
        await Account.find_one(Account.id == account.id).update(
            {
                "$set": {
                    "reset_token_hash": reset.token_hash,
                    "reset_expires_at": reset.expires_at,
                    "outbox_pending": True,
                },
                "$push": {"outbox": event.model_dump(mode="json")},
            }
        )
        await self._flush_stored(account.id)
        return True

    async def reset_password(self, token: str, new_password: str) -> Account | None:
        """Set a new password with a reset token; None when the token is unknown, expired or used.

        Raises WeakPassword (the token stays usable for a better password).
        """
        account = await Account.find_one(Account.reset_token_hash == digest(token))
        if account is None or not reset_token_valid(
            token, account.reset_token_hash, account.reset_expires_at, _now_ms()
        ):
            return None
        check_strength(
            new_password, user_inputs=[account.email, account.display_name], min_score=self.min_password_score
        )
        new_hash = await self.passwords.hash(new_password)
        # Conditional on the token still being there: of two concurrent uses, one wins.
        result = await Account.get_pymongo_collection().update_one(
            {"_id": account.id, "reset_token_hash": digest(token)},
            {
                "$set": {
                    "password_hash": new_hash,
                    "reset_token_hash": None,
                    "reset_expires_at": None,
                    "sessions_valid_after": datetime.now(UTC),
                }
            },
        )
        return account if result.modified_count else None

    async def ensure_admin(self, email: str, password: str) -> None:
        """Create the bootstrap admin when it does not exist yet (idempotent across replicas)."""
        if await self.by_email(email) is not None:
            return
        with contextlib.suppress(EmailTaken):  # another replica got there first
            await self.register(
                email, password, "Administrator", correlation_id="bootstrap", role="admin", verified=True
            )
            log.info("bootstrap admin %s created", email)
