"""Redis keys of notify's read models (the store of record stays Mongo).

Contacts: the sender needs each recipient's address and name for every message; FerretDB
scans the whole contacts collection for a read by ``_id``, so the sender reads them here
(one ``MGET`` per batch). Written through by the users consumer after each change (``SET``,
overwriting) and filled on a miss from the store (``SET NX``, so a slow reader never
overwrites a newer value a writer put meanwhile). Entries expire after a day unused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from snapfix_notify.models import Contact

CONTACT_TTL_S = 86_400


class ContactCache:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}contact:{user_id}"

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, Contact | None]:
        """The contacts known here; a user missing from the result is not cached (ask the store)."""
        if not user_ids:
            return {}
        values = await self.redis.mget([self._key(u) for u in user_ids])
        return {
            u: (Contact.model_validate_json(v) if v != b"-" else None)
            for u, v in zip(user_ids, values, strict=True)
            if v is not None
        }

    async def put(self, user_id: str, contact: Contact | None) -> None:
        """After a change: the contact as the store has it now."""
        await self.redis.set(self._key(user_id), _value(contact), ex=CONTACT_TTL_S)

    async def fill(self, found: Mapping[str, Contact | None]) -> None:
        """After a miss: what the store said, unless a writer put something newer meanwhile."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, contact in found.items():
                pipe.set(self._key(user_id), _value(contact), ex=CONTACT_TTL_S, nx=True)
            await pipe.execute()


def _value(contact: Contact | None) -> bytes:
    # "-": the store has no such contact (yet); its users event fills it when it comes.
    return b"-" if contact is None else contact.model_dump_json(exclude={"revision_id"}).encode()
