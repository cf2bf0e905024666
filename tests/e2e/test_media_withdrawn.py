"""Deleting a withdrawn report removes its photos: originals and variants leave GridFS, URLs answer 410.

The issues service tells the media service with ``SetIssuePhotos`` on media.commands.v1 (the
media service follows no issues.events.v1)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient
from uuid_utils.compat import uuid7

from snapfix_shared.messages import Message, SetIssuePhotos
from snapfix_shared.topics import Topic
from tests.builders import make_report_body
from tests.e2e.api import citizen, eventually, user_id
from tests.e2e.conftest import System
from tests.e2e.test_media import photo, settled, upload
from tests.stack import header, produce, read_topic, wait_caught_up

pytestmark = pytest.mark.e2e

POTHOLE = {"category": "pothole", "lat": 52.5202, "lon": 13.4048}
GROUP = "media"  # media.commands.v1
MEDIA_DB = "snapfix_media"
KEYS = ("original", "thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg")


@pytest.fixture
async def two_citizens(system: System) -> Any:
    clients = (await citizen(system, verified=True), await citizen(system, verified=True))
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def processed_photo(client: httpx.AsyncClient, size: tuple[int, int] = (800, 600)) -> str:
    media_id = await upload(client, photo("JPEG", size))
    state = await eventually(client, f"/v1/media/{media_id}", settled)
    assert state["status"] == "processed", state
    return media_id


async def stored_keys(system: System, media_ids: Iterable[str]) -> set[str]:
    """The GridFS keys of these photos that are still stored (files and chunks)."""
    keys = [f"{m}/{k}" for m in media_ids for k in KEYS]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_url)
    try:
        db = client[MEDIA_DB]
        files = {str(doc["_id"]) async for doc in db["fs.files"].find({"_id": {"$in": keys}}, {"_id": 1})}
        chunks = {str(doc["files_id"]) async for doc in db["fs.chunks"].find({"files_id": {"$in": keys}})}
    finally:
        await client.close()
    return files | chunks


async def until_gone(system: System, media_ids: Iterable[str], timeout_s: float = 10) -> set[str]:
    """The photos' stored keys, once none are left or time is up (the bytes go just after the 410)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = await stored_keys(system, media_ids)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)


async def until_status(anonymous: httpx.AsyncClient, url: str, status: int, timeout_s: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await anonymous.get(url)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def publish_command(system: System, command: Message) -> None:
    body = command.model_dump_json().encode()
    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, body, key=command.partition_key().encode())


async def test_withdrawing_a_report_deletes_its_photos_but_never_someone_elses(
    system: System, two_citizens: Any
) -> None:
    reporter, neighbour = two_citizens
    mine, removed, theirs = await asyncio.gather(
        processed_photo(reporter), processed_photo(reporter, (640, 480)), processed_photo(neighbour)
    )
    assert len(await stored_keys(system, [mine, removed, theirs])) == 3 * len(KEYS)

    accepted = await reporter.post("/v1/issues", json=make_report_body(**POTHOLE, media_ids=[mine, removed]))
    assert accepted.status_code == 202, accepted.text
    path = accepted.headers["location"]
    await eventually(reporter, path, lambda i: i["media_ids"] == [mine, removed])

    # A command may name someone else's photo (a forged or buggy sender): it is never taken.
    forged = uuid7()
    envelope: dict[str, Any] = {"issue_id": forged, "correlation_id": "forged", "owner_id": user_id(reporter)}
    await publish_command(system, SetIssuePhotos(**envelope, media_ids=(UUID(theirs),), reason="reported"))
    await publish_command(system, SetIssuePhotos(**envelope, reason="withdrawn"))

    async with httpx.AsyncClient(base_url=system.gateway) as anonymous:
        # The reporter's edit takes a photo out of the report: that photo goes.
        assert (await reporter.patch(path, json={"media_ids": [mine]})).status_code == 202
        gone = await until_status(anonymous, f"/v1/media/{removed}/thumb.webp", 410)
        assert gone.status_code == 410, gone.text
        assert (await anonymous.get(f"/v1/media/{mine}/thumb.webp")).status_code == 200

        withdrawn = await reporter.post(f"{path}/transitions", json={"to": "withdrawn"})
        assert withdrawn.status_code == 202, withdrawn.text
        gone = await until_status(anonymous, f"/v1/media/{mine}/medium.jpg", 410)
        assert gone.status_code == 410, gone.text
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["status"] == 410
        assert "withdrawn" in gone.json()["detail"]
        assert gone.headers["cache-control"] == "no-store"  # no cache keeps the answer (nor the photo)

        state = await reporter.get(f"/v1/media/{mine}")
        assert state.status_code == 200
        assert state.json()["status"] == "deleted"
        assert state.json()["variants"] == {}
        assert await until_gone(system, [mine, removed]) == set()

        # Everything up to here was consumed (the forged commands too): the neighbour's photo stays.
        await wait_caught_up(system.stack.kafka, GROUP, Topic.MEDIA_COMMANDS)
        assert (await anonymous.get(f"/v1/media/{theirs}/thumb.webp")).status_code == 200
        assert len(await stored_keys(system, [theirs])) == len(KEYS)
    assert (await neighbour.get(f"/v1/media/{theirs}")).json()["status"] == "processed"

    deleted = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, lambda r: r.key == mine.encode(), count=2)
    announced = [orjson.loads(r.value) for r in deleted if header(r, "ce_type") == "dev.snapfix.MediaDeleted.v1"]
    assert [(e["owner_id"], e["reason"], e["issue_id"]) for e in announced] == [
        (user_id(reporter), "issue_withdrawn", path.rsplit("/", 1)[-1])
    ]
    # The issues service follows: the report shows its photo as deleted.
    await eventually(reporter, path, lambda i: [p["status"] for p in i["photos"]] == ["deleted"])


async def test_a_redelivered_withdrawal_announces_the_same_deletion_and_poison_is_dead_lettered(
    system: System, two_citizens: Any
) -> None:
    reporter, _ = two_citizens
    media_id = await processed_photo(reporter, (320, 240))
    accepted = await reporter.post("/v1/issues", json=make_report_body(**POTHOLE, media_ids=[media_id]))
    assert accepted.status_code == 202, accepted.text
    issue_id = accepted.json()["id"]
    await eventually(reporter, accepted.headers["location"], lambda _: True)
    assert (await reporter.post(f"/v1/issues/{issue_id}/transitions", json={"to": "withdrawn"})).status_code == 202

    def deletions(r: Any) -> bool:
        return r.key == media_id.encode() and header(r, "ce_type") == "dev.snapfix.MediaDeleted.v1"

    first = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, deletions)
    assert len(first) == 1

    def photo_commands(r: Any) -> bool:
        return r.key == issue_id.encode() and header(r, "ce_type") == "dev.snapfix.SetIssuePhotos.v1"

    # The issues service told the media service, once for the report and once for the withdrawal.
    told = await read_topic(system.stack.kafka, Topic.MEDIA_COMMANDS, photo_commands, count=2)
    assert [orjson.loads(r.value)["reason"] for r in told] == ["reported", "withdrawn"]
    withdrawal = told[1]
    assert orjson.loads(first[0].value)["causation_id"] == orjson.loads(withdrawal.value)["message_id"]

    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, withdrawal.value, key=withdrawal.key)  # redelivered
    poison_key = f"poison-{media_id}".encode()
    await produce(system.stack.kafka, Topic.MEDIA_COMMANDS, b"not json", key=poison_key)

    again = await read_topic(system.stack.kafka, Topic.MEDIA_EVENTS, deletions, count=2)
    assert len(again) == 2
    assert again[0].value == again[1].value  # the very same event, message id included

    def ours(r: Any) -> bool:
        return r.key == poison_key and header(r, "dlq_consumer_group") == GROUP

    [dead] = await read_topic(system.stack.kafka, Topic.MEDIA_COMMANDS.dlq, ours)
    assert header(dead, "dlq_reason") == "invalid"
