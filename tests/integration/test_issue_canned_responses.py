"""Canned responses in the real store: seed categories stored before canned responses existed get
the seed's at start; what an admin wrote (even none) is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from snapfix_issues.catalogue import CategoryBody, CategorySpec
from snapfix_issues.models import Category
from snapfix_issues.repository import CategoryRepository
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.catalogue import CannedResponse
from tests.integration.issues_app import Issues, running_issues
from tests.stack import Stack

pytestmark = pytest.mark.integration

REPLY = CannedResponse(id="on_it", title="On it", body="A crew is on its way.")


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:  # the store, initialised as the service does it
        yield running


@pytest.mark.usefixtures("issues")
async def test_old_seed_categories_get_the_seed_canned_responses_and_admin_edits_stay() -> None:
    repo = CategoryRepository()
    old, edited = f"old-{uuid4().hex[:8]}", f"edited-{uuid4().hex[:8]}"
    collection = Category.get_pymongo_collection()
    # As stored before the field existed: no canned_responses at all.
    await collection.insert_one({"_id": old, "name": "Old", "department": "roads", "sla_hours": 24})
    await repo.put(edited, CategoryBody(name="Edited", department="roads", sla_hours=24), utcnow())  # none, on purpose
    seed = [
        CategorySpec(code=c, name="Seed", department="roads", sla_hours=24, canned_responses=(REPLY,))
        for c in (old, edited)
    ]
    assert await repo.fill_canned_responses(seed) == 1
    assert await repo.fill_canned_responses(seed) == 0  # once
    stored = {s.code: s for s in await repo.all() if s.code in {old, edited}}
    assert stored[old].canned_responses == (REPLY,)
    assert stored[edited].canned_responses == ()
    await collection.delete_many({"_id": {"$in": [old, edited]}})
