"""The issues store as the service keeps it, on a fresh database of the real store: the indexes its
documents declare, and each record of ``domain.py`` stored field for field (in order, with its BSON
types) and read back unchanged. ``models.py`` declares no fields of these records: this pins what
the store holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from snapfix_issues.domain import CommentRecord, IssueRecord, RejectedReportRecord
from snapfix_issues.models import DOCUMENTS
from snapfix_issues.repository import ReportRepository
from snapfix_shared.messages.issues import ReporterContact
from snapfix_shared.mongo import init_documents
from tests.stack import Stack

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)  # milliseconds: what BSON keeps

Index = tuple[str, tuple[tuple[str, int], ...], bool]  # name, keys in order, unique
EXPECTED_INDEXES: dict[str, set[Index]] = {
    "reports": {
        ("_id_", (("_id", 1),), False),
        ("command_id_1", (("command_id", 1),), True),
        ("category_1_created_at_-1", (("category", 1), ("created_at", -1)), False),
        ("geohash_1", (("geohash", 1),), False),
        ("reporter_id_1_created_at_-1", (("reporter_id", 1), ("created_at", -1)), False),
        (
            "department_1_status_1_due_at_1__id_1",
            (("department", 1), ("status", 1), ("due_at", 1), ("_id", 1)),
            False,
        ),
        (
            "department_1_status_1_created_at_-1__id_-1",
            (("department", 1), ("status", 1), ("created_at", -1), ("_id", -1)),
            False,
        ),
        ("created_at_-1__id_-1", (("created_at", -1), ("_id", -1)), False),
        ("updated_at_1", (("updated_at", 1),), False),
    },
    "comments": {
        ("_id_", (("_id", 1),), False),
        ("issue_id_1_created_at_1", (("issue_id", 1), ("created_at", 1)), False),
    },
    "votes": {
        ("_id_", (("_id", 1),), False),
        ("issue_id_1_active_1", (("issue_id", 1), ("active", 1)), False),
    },
    "follows": {
        ("_id_", (("_id", 1),), False),
        ("issue_id_1_active_1", (("issue_id", 1), ("active", 1)), False),
        ("user_id_1_active_1_since_-1", (("user_id", 1), ("active", 1), ("since", -1)), False),
    },
}


@dataclass
class Store:
    client: AsyncMongoClient[dict[str, Any]]
    name: str

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        return self.client[self.name]


@pytest.fixture
async def store(stack: Stack) -> AsyncIterator[Store]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    store = Store(client, f"snapfix_issues_shape_{uuid4().hex[:8]}")
    await init_documents(client, store.name, DOCUMENTS)  # as the service does at start-up
    yield store
    await client.drop_database(store.name)
    await client.close()


async def _indexes(db: AsyncDatabase[dict[str, Any]]) -> dict[str, set[Index]]:
    found: dict[str, set[Index]] = {}
    for collection in await db.list_collection_names():
        cursor = await db[collection].list_indexes()
        found[collection] = {
            (i["name"], tuple((k, int(v)) for k, v in i["key"].items()), bool(i.get("unique"))) async for i in cursor
        }
    return {c: i for c, i in found.items() if i}


def _typed(value: Any) -> Any:
    """A document with each value's type beside it, its keys in stored order (``1 == 1.0 == True``)."""
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _id(n: int) -> UUID:
    return UUID(int=n, version=4)


async def test_a_fresh_store_gets_the_declared_indexes_and_a_restart_adds_none(store: Store) -> None:
    assert await _indexes(store.db) == EXPECTED_INDEXES
    await init_documents(store.client, store.name, DOCUMENTS)
    assert await _indexes(store.db) == EXPECTED_INDEXES


async def test_a_report_is_stored_field_for_field_and_read_back_unchanged(store: Store) -> None:
    record = IssueRecord(
        id=_id(1),
        title="Pothole",
        description="Deep",
        category="pothole",
        lat=52.5,
        lon=13.4,
        geohash="u33d",
        address="Main St 1",
        attributes={"depth": 12, "width": 1.5, "marked": True, "lane": "left"},
        media_ids=(_id(2), _id(3)),
        created_at=AT,
        reporter_id="user-1",
        channel="open311",
        address_id="addr-1",
        media_url="https://example.org/p.jpg",
        contact=ReporterContact(email="a@example.org", phone="123"),
        device_id="device-1",
        account_id="account-1",
        department="roads",
        priority="high",
        due_at=AT,
        updated_at=AT,
        command_id=_id(4),
        correlation_id="req-1",
        reported_event_id=_id(5),
        reported_event_at=AT,
    )
    repo = ReportRepository()
    assert await repo.insert_new([record]) == set()

    stored = await store.db["reports"].find_one({"_id": str(record.id)})
    contact = {"email": "a@example.org", "first_name": None, "last_name": None, "phone": "123"}
    assert _typed(stored) == _typed(
        {
            "_id": str(record.id),
            "title": "Pothole",
            "description": "Deep",
            "category": "pothole",
            "lat": 52.5,
            "lon": 13.4,
            "geohash": "u33d",
            "address": "Main St 1",
            "attributes": {"depth": 12, "width": 1.5, "marked": True, "lane": "left"},
            "media_ids": [_id(2), _id(3)],
            "anonymous": False,
            "status": "open",
            "created_at": AT,
            "reporter_id": "user-1",
            "channel": "open311",
            "address_id": "addr-1",
            "media_url": "https://example.org/p.jpg",
            "contact": contact,
            "device_id": "device-1",
            "account_id": "account-1",
            "department": "roads",
            "assignee_id": None,
            "priority": "high",
            "due_at": AT,
            "resolved_at": None,
            "updated_at": AT,
            "votes": 0,
            "followers": 0,
            "history": [],
            "command_id": _id(4),
            "correlation_id": "req-1",
            "reported_event_id": _id(5),
            "reported_event_at": AT,
            "version": 0,
            "applied_commands": [],
            "events": [],
        }
    )
    assert await repo.get(record.id) == record
    assert await repo.in_window(start=AT, end=AT.replace(year=2027), limit=10) == [record]


async def test_a_comment_and_a_refusal_are_stored_field_for_field_and_read_back(store: Store) -> None:
    repo = ReportRepository()
    comment = CommentRecord(
        id=_id(6),
        issue_id=_id(1),
        author_id="user-1",
        body="Still there",
        internal=True,
        created_at=AT,
        command_id=_id(7),
        correlation_id="req-2",
        event_id=_id(8),
        event_at=AT,
    )
    assert await repo.insert_comment(comment) is None
    assert _typed(await store.db["comments"].find_one({"_id": str(comment.id)})) == _typed(
        {
            "_id": str(comment.id),
            "issue_id": str(comment.issue_id),
            "author_id": "user-1",
            "body": "Still there",
            "internal": True,
            "created_at": AT,
            "command_id": _id(7),
            "correlation_id": "req-2",
            "event_id": _id(8),
            "event_at": AT,
        }
    )
    assert await repo.comments(comment.issue_id) == [comment]
    assert await repo.insert_comment(comment) == comment  # a redelivery gets the stored one

    refusal = RejectedReportRecord(
        id=_id(9),
        reporter_id="user-1",
        reason="invalid",
        errors=(("title", "too short"), ("attributes.depth", "must be a number")),
        command_id=_id(10),
        correlation_id="req-3",
        event_id=_id(11),
        event_at=AT,
    )
    assert await repo.reject(refusal) == refusal
    assert _typed(await store.db["rejected_reports"].find_one({"_id": str(refusal.id)})) == _typed(
        {
            "_id": str(refusal.id),
            "reporter_id": "user-1",
            "reason": "invalid",
            "errors": [
                {"field": "title", "message": "too short"},
                {"field": "attributes.depth", "message": "must be a number"},
            ],
            "command_id": _id(10),
            "correlation_id": "req-3",
            "event_id": _id(11),
            "event_at": AT,
        }
    )
    assert await repo.rejection(refusal.id) == refusal
    assert await repo.reject(refusal.model_copy(update={"reason": "other"})) == refusal  # the first one kept
