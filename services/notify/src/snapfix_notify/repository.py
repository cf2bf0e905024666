"""The only place with queries on the notify service's collections (portable subset, DESIGN §6)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo import DESCENDING
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from snapfix_notify.cache import ContactCache
from snapfix_notify.models import Contact, Delivery, DigestItem, IssueView, Notification, Outcome, Preference, Watch

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
# The store's failures, as the rest of the service names them (it imports no pymongo).
StoreError = PyMongoError
StoreUnreachable = ConnectionFailure


def _doc(model: Any, doc: dict[str, Any]) -> Any:
    return model.model_validate({**doc, "id": doc["_id"]})


class Contacts:
    """Contacts in the store, and in the Redis read model (``cache.py``) when there is one."""

    def __init__(self, cache: ContactCache | None = None) -> None:
        self.cache = cache

    @staticmethod
    def _c() -> Any:
        return Contact.get_pymongo_collection()

    async def upsert(self, user_id: str, fields: dict[str, Any]) -> None:
        await self._c().update_one({"_id": user_id}, {"$set": fields}, upsert=True)
        await self._written(user_id)

    async def fill(self, user_id: str, fields: dict[str, Any]) -> None:
        """Set ``fields`` only on a contact not known yet (an older event must not overwrite)."""
        await self._c().update_one({"_id": user_id}, {"$setOnInsert": fields}, upsert=True)
        await self._written(user_id)

    async def set_state(
        self, user_id: str, stamp: str, state: dict[str, Any], always: dict[str, Any] | None = None
    ) -> bool:
        """Set the account's ``state`` (role, departments, disabled) unless a later event set it already.

        ``stamp`` orders the events (``state_stamp``); a contact without one (known from an account email
        or a verification only) takes any. ``always`` is set whatever the order (the registration's
        address and name). Inserting is tried first (one write for a new account); on a known one, a
        conditional update. False: an older event, its state left alone.
        """
        set_on_insert = {**state, "state_stamp": stamp}
        op: dict[str, Any] = {"$setOnInsert": set_on_insert}
        if always:
            op["$set"] = always
        result = await self._c().update_one({"_id": user_id}, op, upsert=True)
        applied = result.upserted_id is not None
        if not applied:
            newer = {"$or": [{"state_stamp": {"$exists": False}}, {"state_stamp": {"$lt": stamp}}]}
            result = await self._c().update_one({"_id": user_id, **newer}, {"$set": set_on_insert})
            applied = result.matched_count > 0
        await self._written(user_id)
        return applied

    async def _written(self, user_id: str) -> None:
        if self.cache is not None:  # written through; a failure is the event's to retry, never swallowed
            await self.cache.put(user_id, await self.get(user_id))

    async def get(self, user_id: str) -> Contact | None:
        doc = await self._c().find_one({"_id": user_id})
        return None if doc is None else _doc(Contact, doc)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, Contact | None]:
        """The contacts of ``user_ids`` (None: not known yet), from the read model where it has them."""
        found = await self.cache.get_many(user_ids) if self.cache is not None else {}
        missing = {u: await self.get(u) for u in user_ids if u not in found}
        if missing and self.cache is not None:
            await self.cache.fill(missing)
        return {**found, **missing}

    async def forget(self, user_id: str) -> None:
        """A deleted account: its contact becomes a tombstone (no address, no name, disabled) that no
        later state wins over (``state_stamp`` sorts after every real one); the read model follows."""
        tombstone: dict[str, Any] = {
            "email": None,
            "display_name": "",
            "role": "citizen",
            "departments": [],
            "email_verified": False,
            "disabled": True,
            "deleted": True,
            "state_stamp": DELETED_STAMP,
        }
        await self._c().replace_one({"_id": user_id}, tombstone, upsert=True)
        await self._written(user_id)

    async def deleted(self, user_id: str) -> bool:
        """Whether the account was deleted (read through the read model)."""
        contact = (await self.get_many([user_id])).get(user_id)
        return contact is not None and contact.deleted

    async def staff_of(self, department: str) -> list[str]:
        """The department's staff able to hear of it (never a disabled account)."""
        cursor = self._c().find({"departments": department, "role": "staff", "disabled": {"$ne": True}}, {"_id": 1})
        return [d["_id"] async for d in cursor]


# After every stamp state_stamp makes ("2…" for the next eight thousand years): a deleted account's.
DELETED_STAMP = "~deleted"


def state_stamp(occurred_at: datetime, message_id: UUID) -> str:
    """The order of an account's events, as a string that sorts like it: the instant (UTC, fixed width),
    then the UUIDv7 ``message_id`` for events of the same instant."""
    return f"{occurred_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z|{message_id}"


class Issues:
    """Notify's view of each issue, by its id as a string (see ``IssueView``)."""

    @staticmethod
    def _c() -> Any:
        return IssueView.get_pymongo_collection()

    async def get(self, issue_id: UUID) -> IssueView | None:
        doc = await self._c().find_one({"_id": str(issue_id)})
        return None if doc is None else _doc(IssueView, doc)

    async def set(self, issue_id: UUID, fields: dict[str, Any]) -> None:
        await self._c().update_one({"_id": str(issue_id)}, {"$set": fields}, upsert=True)

    async def reported(self, issue_id: UUID, fields: dict[str, Any]) -> None:
        """A new report: its facts, and the defaults later events leave alone (status, followers)."""
        defaults = {"status": "open", "followers": [], "overdue_sent": False, "assignee_id": None}
        await self._c().update_one({"_id": str(issue_id)}, {"$set": fields, "$setOnInsert": defaults}, upsert=True)

    async def follow(self, issue_id: UUID, user_id: str, follow: bool) -> None:
        op = {"$addToSet": {"followers": user_id}} if follow else {"$pull": {"followers": user_id}}
        await self._c().update_one({"_id": str(issue_id)}, op, upsert=True)

    async def overdue(self, now: datetime, settled: Sequence[str], limit: int = 200) -> list[IssueView]:
        cursor = (
            self._c()
            .find({"overdue_sent": False, "due_at": {"$lt": now}, "status": {"$nin": list(settled)}})
            .limit(limit)
        )
        return [_doc(IssueView, d) async for d in cursor]

    async def mark_overdue_sent(self, issue_id: UUID | str) -> None:
        await self._c().update_one({"_id": str(issue_id)}, {"$set": {"overdue_sent": True}})

    async def adopt_binary_ids(self) -> None:
        """Views stored before ids were strings (binary UUIDs) are stored again under the string; at start.

        Runs before the consumers start, so no event has written a string twin yet; one read of
        the binary ones (a scan on FerretDB, once), then nothing on later starts.
        """
        moved = 0
        async for doc in self._c().find({"_id": {"$type": "binData"}}):
            with contextlib.suppress(DuplicateKeyError):  # moved by a start that stopped before the delete
                await self._c().insert_one({**doc, "_id": str(doc["_id"])})
            await self._c().delete_one({"_id": doc["_id"]})
            moved += 1
        if moved:
            log.info("notify: %d issue views moved to string ids", moved)


class Preferences:
    @staticmethod
    def _c() -> Any:
        return Preference.get_pymongo_collection()

    async def get(self, user_id: str) -> dict[str, dict[str, bool]] | None:
        doc = await self._c().find_one({"_id": user_id})
        return None if doc is None else dict(doc.get("moments") or {})

    async def put(self, user_id: str, moments: dict[str, dict[str, bool]], at: datetime) -> None:
        await self._c().update_one({"_id": user_id}, {"$set": {"moments": moments, "updated_at": at}}, upsert=True)


class Watches:
    @staticmethod
    def _c() -> Any:
        return Watch.get_pymongo_collection()

    async def create(self, watch: Watch) -> None:
        await self._c().insert_one({"_id": watch.id, **watch.model_dump(exclude={"id", "revision_id"})})

    async def of_user(self, user_id: str) -> list[Watch]:
        cursor = self._c().find({"user_id": user_id}).sort("created_at", DESCENDING)
        return [_doc(Watch, d) async for d in cursor]

    async def delete(self, user_id: str, watch_id: UUID) -> bool:
        result = await self._c().delete_one({"_id": watch_id, "user_id": user_id})
        return bool(result.deleted_count)

    async def set_digest(self, user_id: str, watch_id: UUID, *, digest: bool) -> None:
        await self._c().update_one({"_id": watch_id, "user_id": user_id}, {"$set": {"digest": digest}})

    async def covering(self, cells: Sequence[str]) -> list[Watch]:
        cursor = self._c().find({"cells": {"$in": list(cells)}})
        return [_doc(Watch, d) async for d in cursor]

    async def digests_due(self, before: datetime, limit: int = 200) -> list[Watch]:
        cursor = (
            self._c()
            .find({"digest": True, "$or": [{"last_digest_at": None}, {"last_digest_at": {"$lte": before}}]})
            .limit(limit)
        )
        return [_doc(Watch, d) async for d in cursor]

    async def digested(self, watch_id: UUID, at: datetime) -> None:
        await self._c().update_one({"_id": watch_id}, {"$set": {"last_digest_at": at}})


class DigestItems:
    @staticmethod
    def _c() -> Any:
        return DigestItem.get_pymongo_collection()

    async def add(self, item: DigestItem) -> None:
        doc = {"_id": item.id, **item.model_dump(exclude={"id", "revision_id"})}
        await self._c().update_one({"_id": item.id}, {"$setOnInsert": doc}, upsert=True)

    async def take(self, watch_id: UUID, digest_key: str) -> list[DigestItem]:
        """Claim the watch's waiting items for ``digest_key``; items it claimed before come back too."""
        await self._c().update_many({"watch_id": watch_id, "digest_key": None}, {"$set": {"digest_key": digest_key}})
        cursor = self._c().find({"watch_id": watch_id, "digest_key": digest_key}).sort("created_at", 1)
        return [_doc(DigestItem, d) async for d in cursor]


class Feed:
    @staticmethod
    def _c() -> Any:
        return Notification.get_pymongo_collection()

    async def add(self, notification: Notification) -> None:
        doc = {"_id": notification.id, **notification.model_dump(exclude={"id", "revision_id"})}
        with contextlib.suppress(DuplicateKeyError):  # a repeated send: the entry is there already
            await self._c().insert_one(doc)

    async def add_many(self, notifications: Sequence[Notification]) -> None:
        """Several entries in one insert; one written before (a repeated send) is left as it is."""
        docs = [{"_id": n.id, **n.model_dump(exclude={"id", "revision_id"})} for n in notifications]
        try:
            await self._c().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def page(self, user_id: str, *, before: tuple[datetime, str] | None, limit: int) -> list[Notification]:
        """Newest first; ``before`` is the (created_at, id) of the last item of the previous page."""
        query: dict[str, Any] = {"user_id": user_id}
        if before is not None:
            at, key = before
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": key}}]
        cursor = self._c().find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [_doc(Notification, d) async for d in cursor]

    async def unread(self, user_id: str) -> int:
        return int(await self._c().count_documents({"user_id": user_id, "read_at": None}))

    async def read(self, user_id: str, key: str, at: datetime) -> bool | None:
        """Mark one read; None when the user has no such notification (someone else's is not found)."""
        doc = await self._c().find_one({"_id": key, "user_id": user_id}, {"_id": 1})
        if doc is None:
            return None
        await self._c().update_one({"_id": key, "user_id": user_id, "read_at": None}, {"$set": {"read_at": at}})
        return True

    async def read_all(self, user_id: str, at: datetime) -> int:
        result = await self._c().update_many({"user_id": user_id, "read_at": None}, {"$set": {"read_at": at}})
        return int(result.modified_count)


class PersonalData:
    """What notify holds about one user across its collections: their export, and its erasure.

    Queries by ``user_id`` / ``recipient_id`` (indexed where the hot paths need it; a scan on the
    others, fine for a rare request)."""

    async def export(self, user_id: str, limit: int) -> dict[str, Any]:
        notifications = await Notification.get_pymongo_collection().find({"user_id": user_id}).limit(limit).to_list()
        watches = await Watch.get_pymongo_collection().find({"user_id": user_id}).limit(limit).to_list()
        preference = await Preference.get_pymongo_collection().find_one({"_id": user_id})
        return {
            "notifications": [_plain(d) for d in notifications],
            "preferences": None if preference is None else _plain(preference),
            "watches": [_plain(d) for d in watches],
        }

    async def erase(self, user_id: str) -> dict[str, int]:
        """Delete the user's feed, preferences, watches (and their digest items), and every delivery to
        them, pending or done, with the address it may hold; take them off the issues' views. Idempotent."""
        removed = {
            "notifications": await _delete(Notification, {"user_id": user_id}),
            "preferences": await _delete(Preference, {"_id": user_id}),
            "watches": await _delete(Watch, {"user_id": user_id}),
            "digest_items": await _delete(DigestItem, {"user_id": user_id}),
            "outbox": await _delete(Delivery, {"recipient_id": user_id}),
            "delivery_outcomes": await _delete(Outcome, {"recipient_id": user_id}),
        }
        issues = IssueView.get_pymongo_collection()
        await issues.update_many({"reporter_id": user_id}, {"$set": {"reporter_id": None}})
        await issues.update_many({"assignee_id": user_id}, {"$set": {"assignee_id": None}})
        await issues.update_many({"followers": user_id}, {"$pull": {"followers": user_id}})
        return removed


async def _delete(document: Any, query: dict[str, Any]) -> int:
    result = await document.get_pymongo_collection().delete_many(query)
    return int(result.deleted_count)


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    return {"id": doc.pop("_id"), **doc}
