"""The outbox of the accounts: each account document keeps the user events it still has to publish; they go to
Kafka after the write that stored them, and a relay publishes what a failed publish left behind."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from pymongo.errors import PyMongoError

from snapfix_gateway.identity.models import Account
from snapfix_shared.kafka import PublishFailed, publish_all
from snapfix_shared.messages import USER_EVENTS
from snapfix_shared.sealing import LinkSeal
from snapfix_shared.topics import Topic

log = logging.getLogger(__name__)


class AccountOutbox:
    """Publishing an account's pending events (the base of ``Accounts``, which sets these attributes)."""

    broker: KafkaBroker
    source: str
    publish_timeout_s: float
    link_seal: LinkSeal

    async def publish_pending(self, account: Account) -> None:
        """Publish what ``register(publish=False)`` left in the account's outbox (the relay retries a failure)."""
        try:
            await self._flush(account)
        except PyMongoError as exc:  # published, not cleared: the relay publishes again, consumers dedupe
            log.warning("outbox of %s not cleared: %r", account.id, exc)

    async def _flush_stored(self, account_id: UUID) -> None:
        """Publish the pending events of the account as stored now (after an update that added some)."""
        stored = await Account.get(account_id)
        if stored is not None:
            await self._flush(stored)

    async def _flush(self, account: Account) -> None:
        """Publish the account's pending events, then clear them; on failure the relay retries."""
        if not account.outbox:
            return
        events = [USER_EVENTS.validate_python(self._sealed(e)) for e in account.outbox]
        try:
            await publish_all(
                self.broker,
                Topic.USERS_EVENTS,
                [(e, otel_context.get_current()) for e in events],
                source=self.source,
                timeout_s=self.publish_timeout_s,
            )
        except PublishFailed:
            log.warning("user events of %s not published yet; the outbox relay will retry", account.id)
            return
        # The published entries, as they are stored ($pullAll: FerretDB ignores a $pull by condition, which left
        # every event, and its link, in the outbox for good); the flag is cleared only once the outbox is empty,
        # so an entry pushed meanwhile is never left pending unflagged.
        collection = Account.get_pymongo_collection()
        await collection.update_one({"_id": account.id}, {"$pullAll": {"outbox": account.outbox}})
        await collection.update_one(
            {"_id": account.id, "outbox": {"$size": 0}, "outbox_pending": True}, {"$set": {"outbox_pending": False}}
        )

    def _sealed(self, event: dict[str, Any]) -> dict[str, Any]:
        """An outbox entry written before links were sealed, sealed now (its link never reaches Kafka in clear)."""
        event = dict(event)
        for clear in ("verify_url", "reset_url"):
            if clear in event:
                event[f"{clear}_sealed"] = self.link_seal.seal(str(event.pop(clear)))
        return event

    async def relay_outbox(self, interval_s: float = 15.0) -> None:
        """Runs for the life of the process: publishes outboxes a failed publish left behind."""
        while True:
            try:
                async for account in Account.find(Account.outbox_pending == True).limit(100):  # noqa: E712
                    await self._flush(account)
            except PyMongoError as exc:
                log.warning("outbox relay: %r", exc)
            await asyncio.sleep(interval_s)
