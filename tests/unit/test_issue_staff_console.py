"""What the staff console needs, in memory: canned responses in the category contract (and in the
gateway's copy of it), the seed's replies, who sees them, and the staff queue's sort keys and cursors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from snapfix_gateway.catalogue import CatalogueCopy
from snapfix_gateway.config import GatewaySettings
from snapfix_issues import lists
from snapfix_issues.api.categories import _shown
from snapfix_issues.catalogue import seed_categories
from snapfix_issues.readmodel import NO_DUE, PRIORITY_BAND
from snapfix_shared.messages.catalogue import (
    CATALOGUE_RECORDS,
    CannedResponse,
    CategoryBody,
    CategoryPublished,
    CategorySpec,
)
from snapfix_shared.viewer import Viewer

pytestmark = pytest.mark.unit

REPLY = {"id": "on-it_1", "title": "On it", "body": "A crew is on its way.\n\tThanks!\r\n"}


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Bench", "department": "parks", "sla_hours": 24, "canned_responses": [REPLY], **overrides}


def test_a_category_keeps_its_canned_responses() -> None:
    category = CategoryBody.model_validate(body())
    assert category.canned_responses == (CannedResponse(**REPLY),)
    assert CategoryBody.model_validate(body(canned_responses=[REPLY] * 0)).canned_responses == ()
    twenty = [{**REPLY, "id": f"r{n}"} for n in range(20)]
    assert len(CategoryBody.model_validate(body(canned_responses=twenty)).canned_responses) == 20


@pytest.mark.parametrize(
    "canned",
    [
        [{**REPLY, "id": f"r{n}"} for n in range(21)],
        [{**REPLY, "title": "x" * 81}],
        [{**REPLY, "body": "x" * 2001}],
        [{**REPLY, "body": "a\x1bb"}],
        [{**REPLY, "title": "\x00"}],
        [{**REPLY, "body": "\ufffe"}],
        [{**REPLY, "id": "Upper"}],
        [{**REPLY, "id": "-lead"}],
        [{**REPLY, "id": ""}],
        [{**REPLY, "title": ""}],
        [{**REPLY, "extra": True}],
        [REPLY, {**REPLY, "title": "Again"}],
    ],
)
def test_bad_canned_responses_are_refused(canned: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        CategoryBody.model_validate(body(canned_responses=canned))


def test_every_seed_category_ships_one_to_three_replies() -> None:
    for spec in seed_categories():
        assert 1 <= len(spec.canned_responses) <= 3, spec.code
        for reply in spec.canned_responses:
            assert reply.title.strip()
            assert reply.body.strip()


def test_records_with_and_without_canned_responses_are_valid_on_the_topic() -> None:
    spec = CategorySpec(code="bench", **CategoryBody.model_validate(body()).model_dump())
    raw = CategoryPublished(correlation_id="t", category=spec).model_dump_json()
    assert CATALOGUE_RECORDS.validate_json(raw).category == spec
    # A record published before the field existed stays valid (the change is additive).
    old = CategoryPublished(correlation_id="t", category=spec.model_copy(update={"canned_responses": ()}))
    assert '"canned_responses":[]' in old.model_dump_json()
    raw_old = old.model_dump_json().replace(',"canned_responses":[]', "")
    assert "canned_responses" not in raw_old
    assert CATALOGUE_RECORDS.validate_json(raw_old).category.canned_responses == ()


def test_the_gateway_copy_keeps_canned_responses() -> None:
    copy = CatalogueCopy(GatewaySettings(), client_id="unit")
    spec = CategorySpec(code="bench", **CategoryBody.model_validate(body()).model_dump())
    record = SimpleNamespace(
        key=b"bench", value=CategoryPublished(correlation_id="t", category=spec).model_dump_json().encode(), offset=0
    )
    copy.apply(record)  # type: ignore[arg-type]
    assert [s.canned_responses for s in copy.all()] == [spec.canned_responses]


@pytest.mark.parametrize(
    ("viewer", "sees"),
    [
        (Viewer(), False),
        (Viewer(user_id="c", role="citizen"), False),
        (Viewer(user_id="s", role="staff", departments=frozenset({"roads"})), True),
        (Viewer(user_id="a", role="admin"), True),
    ],
)
def test_only_staff_and_admins_see_canned_responses(viewer: Viewer, sees: bool) -> None:
    spec = CategorySpec(code="bench", **CategoryBody.model_validate(body()).model_dump())
    shown = _shown(spec, viewer)
    assert ("canned_responses" in shown) is sees
    assert shown["name"] == "Bench"


def test_queue_sort_keys() -> None:
    assert lists.queue_sort_key("priority", rank=1, due_ms=5, created_ms=9) == (1.0, 5.0)
    assert lists.queue_sort_key("priority", rank=1, due_ms=None, created_ms=9) == (1.0, float(2**53))
    assert lists.queue_sort_key("due", rank=1, due_ms=5, created_ms=9) == (-1.0, 5.0)
    assert lists.queue_sort_key("newest", rank=1, due_ms=5, created_ms=9) == (-2.0, 9.0)
    assert lists.queue_sort_key("oldest", rank=1, due_ms=5, created_ms=9) == (-3.0, 9.0)


@pytest.mark.parametrize("sort", ["priority", "due", "newest", "oldest"])
def test_a_cursor_belongs_to_its_sort(sort: lists.QueueSort) -> None:
    for made_by in ("priority", "due", "newest", "oldest"):
        key = list(lists.queue_sort_key(made_by, rank=2, due_ms=7, created_ms=8))
        if made_by == sort:
            assert lists.queue_cursor_key(sort, key) == tuple(key)
        else:
            with pytest.raises(ValueError, match="another sort"):
                lists.queue_cursor_key(sort, key)
    with pytest.raises(ValueError, match="another sort"):
        lists.queue_cursor_key(sort, [1.0, 2.0, 3.0])


def test_a_priority_cursor_of_old_still_pages() -> None:
    # Once a cursor carried the queue score itself.
    assert lists.queue_cursor_key("priority", 2 * PRIORITY_BAND + 7) == (2.0, 7.0)
    assert lists.queue_cursor_key("priority", 3 * PRIORITY_BAND + NO_DUE) == (3.0, float(2**53))
