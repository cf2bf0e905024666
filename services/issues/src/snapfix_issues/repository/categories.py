"""The catalogue's store: the categories an administrator edits (``catalogue_sync.py`` loads them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from pymongo.errors import BulkWriteError

from snapfix_issues.catalogue import CategoryBody, CategorySpec
from snapfix_issues.models import Category
from snapfix_issues.repository.reports import DUPLICATE_KEY

log = logging.getLogger(__name__)


class CategoryRepository:
    async def all(self) -> list[CategorySpec]:
        specs = []
        async for doc in Category.get_pymongo_collection().find({}):
            try:
                fields = {k: v for k, v in doc.items() if k not in {"_id", "updated_at"}}
                specs.append(CategorySpec.model_validate({**fields, "code": doc["_id"]}))
            except ValidationError as exc:  # edited by hand into something unusable: skip, say so
                log.warning("category %s is not valid and is ignored: %s", doc.get("_id"), exc)
        return specs

    async def insert_absent(self, specs: Sequence[CategorySpec]) -> int:
        """Insert the categories whose codes are not stored yet; stored ones keep their edits."""
        if not specs:
            return 0
        docs = [{"_id": s.code, **s.model_dump(mode="json", exclude={"code"})} for s in specs]
        try:
            await Category.get_pymongo_collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return len(specs) - len(errors)
        return len(specs)

    async def fill_canned_responses(self, specs: Sequence[CategorySpec]) -> int:
        """Give stored seed categories stored before canned responses existed (no such field at all)
        the seed's; a category an admin has written since keeps its own (even an empty list)."""
        filled = 0
        for spec in specs:
            if not spec.canned_responses:
                continue
            result = await Category.get_pymongo_collection().update_one(
                {"_id": spec.code, "canned_responses": {"$exists": False}},
                {"$set": {"canned_responses": [c.model_dump(mode="json") for c in spec.canned_responses]}},
            )
            filled += result.modified_count
        return filled

    async def put(self, code: str, body: CategoryBody, at: datetime) -> bool:
        """Create or replace a category; True when it was created."""
        doc = {**body.model_dump(mode="json"), "updated_at": at}
        result = await Category.get_pymongo_collection().replace_one({"_id": code}, doc, upsert=True)
        return result.upserted_id is not None
