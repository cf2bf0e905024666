"""Per-user upload quotas of the media service, on FerretDB and Redis: photos no report names
yet (slots in the store) and upload URLs per UTC day (a Redis counter); both race-safe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, get_args
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from snapfix_media import api
from snapfix_media.config import MediaSettings
from snapfix_media.models import Media, UploadSlot
from snapfix_media.quota import DailyUploads, seconds_to_midnight
from snapfix_media.repository import MediaRepository
from snapfix_media.service import Uploads
from snapfix_media.signing import UploadSigner
from snapfix_media.storage import GridFsStore
from snapfix_media.sweeper import UploadSweeper
from snapfix_shared.messages.base import utcnow
from snapfix_shared.mongo import init_documents
from snapfix_shared.problems import install_problem_handlers
from tests.stack import Stack

pytestmark = pytest.mark.integration
LIMIT = 3
DAILY = 6
TEST_USER = "x-test-user"


def as_header_user(request: Request) -> str:
    """Stands in for the viewer the gateway proves (tested on its own): these tests are about quotas."""
    return request.headers[TEST_USER]


@dataclass
class MediaApi:
    http: httpx.AsyncClient
    repo: MediaRepository
    mongo: AsyncMongoClient[dict[str, Any]]
    database: str
    app: FastAPI

    async def ask(self, user: str) -> httpx.Response:
        """POST /v1/uploads as ``user``."""
        body = {"content_type": "image/jpeg", "size": 1000}
        return await self.http.post("/v1/uploads", json=body, headers={TEST_USER: user})

    async def records_of(self, user: str) -> int:
        return await self.mongo[self.database]["media"].count_documents({"owner_id": user})


@pytest.fixture
async def media_api(stack: Stack) -> AsyncIterator[MediaApi]:
    """The media service's upload routes on the real store and Redis (no Kafka consumer needed)."""
    database = f"snapfix_media_quota_{uuid4().hex[:8]}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    await init_documents(mongo, database, [Media, UploadSlot])
    redis = Redis.from_url(stack.redis_url)
    settings = MediaSettings(unattached_photo_limit=LIMIT)
    app = FastAPI()
    install_problem_handlers(app)
    repo = MediaRepository()
    app.state.settings, app.state.repo, app.state.store = settings, repo, None
    app.state.uploads = Uploads(repo, None)  # type: ignore[arg-type]  # no bytes are uploaded here
    app.state.runtime = SimpleNamespace(redis=redis)
    app.state.signer = UploadSigner(settings.upload_secret.get_secret_value())
    app.state.daily_uploads = DailyUploads(redis)
    api.install(app)
    signed_in_user = get_args(api.UserDep)[1].dependency  # whatever the service reads its user from
    app.dependency_overrides[signed_in_user] = as_header_user
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://media") as http:
        yield MediaApi(http, repo, mongo, database, app)
    await redis.aclose()
    await mongo.drop_database(database)
    await mongo.close()


def user() -> str:
    return f"user-{uuid4().hex[:12]}"


async def test_parallel_uploads_never_pass_the_last_photo_slot(media_api: MediaApi) -> None:
    owner = user()
    answers = await asyncio.gather(*(media_api.ask(owner) for _ in range(5 * LIMIT)))
    assert sorted(a.status_code for a in answers) == [201] * LIMIT + [403] * (4 * LIMIT)
    refused = next(a for a in answers if a.status_code == 403)
    assert refused.headers["content-type"] == "application/problem+json"
    assert f"You have {LIMIT} photos that no report names yet" in refused.json()["detail"]
    # The refused ones leave no record behind; another user is not affected.
    assert await media_api.records_of(owner) == LIMIT
    assert (await media_api.ask(user())).status_code == 201


async def test_a_slot_is_freed_when_a_report_names_the_photo(media_api: MediaApi) -> None:
    owner = user()
    ids = [UUID((await media_api.ask(owner)).json()["id"]) for _ in range(LIMIT)]
    assert (await media_api.ask(owner)).status_code == 403

    # Someone else naming the photo in their report frees nothing.
    assert not await media_api.repo.attach(ids[0], uuid4(), "someone-else")
    assert (await media_api.ask(owner)).status_code == 403

    assert await media_api.repo.attach(ids[0], uuid4(), owner)
    assert (await media_api.ask(owner)).status_code == 201
    assert (await media_api.ask(owner)).status_code == 403
    attached = await media_api.repo.get(ids[0])
    assert attached is not None
    assert attached.unattached_since is None  # the orphan sweep will not look at it


async def test_a_slot_is_freed_when_the_photo_is_rejected(media_api: MediaApi) -> None:
    owner = user()
    ids = [UUID((await media_api.ask(owner)).json()["id"]) for _ in range(LIMIT)]
    assert await media_api.repo.uploaded(ids[1], 1000, utcnow())
    assert await media_api.repo.finish(ids[1], "rejected", {"type": "MediaRejected"}, reason="not an image")
    assert (await media_api.ask(owner)).status_code == 201
    assert (await media_api.ask(owner)).status_code == 403


async def test_a_slot_is_freed_when_its_upload_url_expires_unused(media_api: MediaApi) -> None:
    owner = user()
    for _ in range(LIMIT):
        assert (await media_api.ask(owner)).status_code == 201
    assert (await media_api.ask(owner)).status_code == 403
    store = GridFsStore(media_api.mongo[media_api.database])
    sweeper = UploadSweeper(media_api.repo, store, interval_s=60, grace_s=0, batch=1000)
    # An hour later, every URL has expired.
    await sweeper.sweep(datetime.fromtimestamp(utcnow().timestamp() + 3600, UTC))
    assert (await media_api.ask(owner)).status_code == 201


async def test_past_the_daily_limit_uploads_get_429_until_midnight_utc(media_api: MediaApi) -> None:
    settings: MediaSettings = media_api.app.state.settings
    media_api.app.state.settings = settings.model_copy(update={"daily_upload_limit": DAILY})
    owner = user()
    # Parallel asks cannot both take the day's last one (the slots run out before, too).
    answers = await asyncio.gather(*(media_api.ask(owner) for _ in range(DAILY + 4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(429) == 4, statuses
    assert statuses.count(201) == LIMIT  # the other passes met the slot limit first
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    assert "upload URLs today" in refused.json()["detail"]
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= seconds_to_midnight(utcnow()) + 5
    assert (await media_api.ask(user())).status_code == 201  # per user
