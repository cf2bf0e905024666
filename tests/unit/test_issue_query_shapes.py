"""The issues consumer's queries are shaped for MongoDB: each addresses documents by a string ``_id``
or by a declared index's leading fields (a recording collection stands in for the store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pymongo import IndexModel

from snapfix_issues.domain import CommentRecord
from snapfix_issues.models import Comment, Follow, Report, Vote
from snapfix_issues.records import new_report
from snapfix_issues.repository import ReportRepository
from snapfix_issues.rules import Change
from snapfix_shared.messages import IssueStatusChanged
from tests.builders import make_report_command

pytestmark = pytest.mark.unit


@dataclass
class Result:
    matched_count: int = 1
    upserted_id: Any = None


@dataclass
class Recorder:
    """A collection that answers plausibly and notes every filter it was given."""

    name: str
    filters: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def _note(self, op: str, query: dict[str, Any]) -> None:
        self.filters.append((self.name, op, query))

    async def find_one(self, query: dict[str, Any], *_: Any, **__: Any) -> None:
        self._note("find_one", query)

    async def update_one(self, query: dict[str, Any], *_: Any, **__: Any) -> Result:
        self._note("update_one", query)
        return Result()

    async def update_many(self, query: dict[str, Any], *_: Any, **__: Any) -> Result:
        self._note("update_many", query)
        return Result()

    async def replace_one(self, query: dict[str, Any], *_: Any, **__: Any) -> Result:
        self._note("replace_one", query)
        return Result()

    async def count_documents(self, query: dict[str, Any], *_: Any, **__: Any) -> int:
        self._note("count_documents", query)
        return 0

    async def insert_one(self, doc: dict[str, Any]) -> None:
        assert isinstance(doc["_id"], str), "stored ids are strings"

    async def insert_many(self, docs: list[dict[str, Any]], **_: Any) -> None:
        assert all(isinstance(d["_id"], str) for d in docs), "stored ids are strings"

    def find(self, query: dict[str, Any], *_: Any, **__: Any) -> Cursor:
        self._note("find", query)
        return Cursor()


class Cursor:
    """An empty cursor."""

    def sort(self, *_: Any) -> Cursor:
        return self

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        raise StopAsyncIteration


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    filters: list[tuple[str, str, dict[str, Any]]] = []
    for document in (Report, Comment, Vote, Follow):
        recorder = Recorder(document.Settings.name, filters)
        monkeypatch.setattr(document, "get_pymongo_collection", classmethod(lambda _cls, r=recorder: r))
    return filters


def _leading_fields(document: Any) -> list[list[str]]:
    fields = []
    for index in getattr(document.Settings, "indexes", []):
        keys = index.document["key"] if isinstance(index, IndexModel) else {index: 1}
        fields.append(list(keys))
    return fields


INDEXES = {d.Settings.name: _leading_fields(d) for d in (Report, Comment, Vote, Follow)}


async def test_the_consumers_queries_go_by_id_or_by_an_index(recorded: list[tuple[str, str, dict[str, Any]]]) -> None:
    repo = ReportRepository()
    issue = new_report(make_report_command(), None)
    now = datetime.now(UTC)
    await repo.insert_new([issue])
    await repo.get(issue.id)
    event = IssueStatusChanged.model_construct(issue_id=issue.id)
    await repo.apply_change(issue, uuid4(), Change({"status": "acknowledged"}, event))
    comment = CommentRecord(
        id=uuid4(),
        issue_id=issue.id,
        author_id="u",
        body="b",
        created_at=now,
        command_id=uuid4(),
        correlation_id="c",
        event_id=uuid4(),
        event_at=now,
    )
    await repo.insert_comment(comment)
    await repo.get_participation("vote", issue.id, "u")
    await repo.put_participation("vote", {"issue_id": issue.id, "user_id": "u", "active": True})
    await repo.recount("vote", issue.id)
    await repo.move_followers(issue.id, uuid4(), "u", now)
    await repo.comments(issue.id)

    assert recorded
    for collection, op, query in recorded:
        if "_id" in query:
            assert isinstance(query["_id"], str), f"{collection}.{op} by a binary _id: {query}"
            continue
        equalities = [k for k, v in query.items() if not isinstance(v, dict)]
        assert all(isinstance(query[k], str | bool) for k in equalities), f"{collection}.{op}: {query}"
        assert any(index[: len(equalities)] == equalities for index in INDEXES[collection]), (
            f"{collection}.{op} filters on {equalities}, which no declared index leads with"
        )
