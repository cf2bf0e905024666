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
    """A pooled client; every operation is bounded by ``mongo_timeout_ms``."""
    timeout = settings.mongo_timeout_ms
    return AsyncMongoClient(
        settings.mongo_url,
        appname=app_name,
        uuidRepresentation="standard",
        tz_aware=True,
        timeoutMS=timeout,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        retryWrites=False,  # FerretDB has no retryable writes; handlers are idempotent instead
    )


async def init_documents(
    client: AsyncMongoClient[dict[str, Any]], database: str, models: Sequence[type[Document]]
) -> None:
    """Bind Beanie documents to the service's own database and create their indexes."""
    await init_beanie(database=client[database], document_models=list(models))


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
