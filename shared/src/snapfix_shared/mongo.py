"""MongoDB wiring: PyMongo's AsyncMongoClient with timeouts, and Beanie on the service's own database.

Application code stays inside the portable subset that MongoDB 7+ and FerretDB share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient

from snapfix_shared.settings import MongoSettings


def mongo_client(settings: MongoSettings, *, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """A pooled client; every network wait is bounded by ``mongo_timeout_ms``."""
    timeout = settings.mongo_timeout_ms
    return AsyncMongoClient(
        settings.mongo_url,
        appname=app_name,
        uuidRepresentation="standard",
        tz_aware=True,
        socketTimeoutMS=timeout,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        waitQueueTimeoutMS=timeout,
        retryWrites=False,  # FerretDB has no retryable writes; handlers are idempotent instead
    )


async def init_documents(
    client: AsyncMongoClient[dict[str, Any]], database: str, models: Sequence[type[Document]]
) -> None:
    """Bind Beanie documents to the service's own database and create their indexes.

    Indexes come from each document's ``Settings.indexes``, created one per
    ``createIndexes`` call: FerretDB v1 drops the connection when one call names
    several indexes that already exist (as Beanie's own index sync does on restart).
    """
    await init_beanie(database=client[database], document_models=list(models), skip_indexes=True)
    for model in models:
        collection = model.get_pymongo_collection()
        for index in getattr(model.Settings, "indexes", None) or []:
            await collection.create_indexes([index])


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
