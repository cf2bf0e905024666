"""Privacy rights, end to end: a citizen exports their data, then deletes their account, and then no
store of any service holds their address or their name.

The citizen registers, verifies their address by the e-mailed link, reports with a photo, leaves a
second photo unattached, comments, follows and votes on a neighbour's report, sets preferences,
watches an area, registers a push device and gets notifications. ``GET /v1/me/export`` hands all of
it back (never the password's hash). ``DELETE /v1/me`` (with the password) ends the session; signing
in fails; the report stays public without its reporter; the unattached photo is gone, the report's
stays. Then every document of every collection of every database on the Mongo-wire server, and
every key of every Redis node (read by its type), is read until none holds the address or the
name, within a deadline (the consumers of ``UserDeleted`` work on their own time).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import pytest
from bson import json_util
from bson.binary import UuidRepresentation
from pymongo import AsyncMongoClient
from redis.asyncio import Redis, RedisCluster

from tests.builders import make_report_body
from tests.e2e.api import PASSWORD, citizen, eventually, sign_in, user_id
from tests.e2e.conftest import System
from tests.e2e.test_media import photo, settled, upload
from tests.mailbox import Mailbox, emailed_link
from tests.stack import Stack

pytestmark = pytest.mark.e2e

HERE = {"category": "pothole", "lat": 12.9352, "lon": 77.6245}
ERASED_WITHIN_S = 90.0
# Extended JSON, as mongoexport writes it (UUIDs as the standard subtype 4).
AS_JSON = json_util.RELAXED_JSON_OPTIONS.with_options(uuid_representation=UuidRepresentation.STANDARD)


async def _register(system: System, mailbox: Mailbox, email: str, name: str) -> httpx.AsyncClient:
    since = len(mailbox.messages)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
        body = {"email": email, "password": PASSWORD, "display_name": name}
        assert (await anonymous.post("/v1/auth/register", json=body)).status_code == 202
        link = await emailed_link(mailbox, email, "/v1/auth/verify-email", since=since, timeout_s=60)
        followed = await anonymous.get(link, headers={"accept": "application/json"})
        assert followed.status_code == 200, followed.text
    client = await sign_in(system, email)
    assert (await client.get("/v1/me")).json()["email_verified"] is True
    return client


async def _report(client: httpx.AsyncClient, **fields: Any) -> str:
    accepted = await client.post("/v1/issues", json=make_report_body(**HERE, **fields))
    assert accepted.status_code == 202, accepted.text
    await eventually(client, accepted.headers["location"], lambda _: True, timeout_s=60)
    return str(accepted.json()["id"])


async def _accepted(response: httpx.Response) -> None:
    assert response.status_code == 202, response.text


async def _holding(stack: Stack, needles: list[bytes]) -> list[str]:
    """Every place in the stores that holds one of ``needles``: ``db.collection`` or ``redis key``."""
    found: list[str] = []
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, uuidRepresentation="standard", serverSelectionTimeoutMS=10_000, timeoutMS=60_000
    )
    try:
        for database in await mongo.list_database_names():
            for collection in await mongo[database].list_collection_names():
                async for doc in mongo[database][collection].find({}):
                    dumped = json_util.dumps(doc, json_options=AS_JSON).encode().lower()
                    if any(n in dumped for n in needles):
                        found.append(f"mongo {database}.{collection} {doc.get('_id')!r}")
    finally:
        await mongo.close()
    found += await _redis_holding(stack.redis_url, needles)
    return found


async def _redis_holding(url: str, needles: list[bytes]) -> list[str]:
    probe = Redis.from_url(url, socket_timeout=10)
    try:
        clustered = "cluster_enabled:1" in str(await probe.info("cluster"))
    finally:
        await probe.aclose()
    if clustered:
        cluster = RedisCluster.from_url(url, socket_timeout=10)
        try:
            nodes = [(n.host, n.port) for n in cluster.get_primaries()]
        finally:
            await cluster.aclose()
        password = urlsplit(url).password
        clients = [Redis(host=h, port=int(p), password=password, socket_timeout=10) for h, p in nodes]
    else:
        clients = [Redis.from_url(url, socket_timeout=10)]
    found: list[str] = []
    for node in clients:
        try:
            async for key in node.scan_iter(count=1000):
                value = await _read(node, key)
                if any(n in (key + value).lower() for n in needles):
                    found.append(f"redis {key!r}")
        finally:
            await node.aclose()
    return found


async def _read(node: Redis, key: bytes) -> bytes:
    """The key's value whatever its type, as bytes (what a grep would see)."""
    raw_kind = await node.type(key)
    kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
    parts: list[Any]
    match kind:
        case "string":
            parts = [await node.get(key)]
        case "hash":
            parts = [x for kv in (await node.hgetall(key)).items() for x in kv]
        case "list":
            parts = await node.lrange(key, 0, -1)
        case "set":
            parts = list(await node.smembers(key))
        case "zset":
            parts = await node.zrange(key, 0, -1)
        case "stream":
            parts = [repr(entry).encode() for entry in (await node.xrange(key)) or []]
        case _:  # gone meanwhile ("none"), or a type SnapFix does not use
            parts = []
    return b"\n".join(p if isinstance(p, bytes) else str(p).encode() for p in parts if p is not None)


async def test_a_citizen_exports_their_data_then_deletes_the_account_and_no_store_keeps_their_address(
    system: System, mailbox: Mailbox
) -> None:
    tag = uuid4().hex[:12]
    email, name = f"privacy-{tag}@example.org", f"Privacy Person {tag}"
    user = await _register(system, mailbox, email, name)
    neighbour = await citizen(system, verified=True)
    anonymous = httpx.AsyncClient(base_url=system.gateway, timeout=30)
    try:
        # -- what the citizen does ---------------------------------------------------------------
        kept_photo, loose_photo = await upload(user, photo()), await upload(user, photo())
        for media_id in (kept_photo, loose_photo):
            assert (await eventually(user, f"/v1/media/{media_id}", settled, timeout_s=60))["status"] == "processed"
        mine = await _report(user, media_ids=[kept_photo])
        theirs = await _report(neighbour)
        await _accepted(await user.post(f"/v1/issues/{mine}/comments", json={"body": f"Still there, {tag}"}))
        await _accepted(await user.put(f"/v1/issues/{theirs}/follow"))
        await _accepted(await user.post(f"/v1/issues/{theirs}/vote"))
        await eventually(user, f"/v1/issues/{theirs}/viewer", lambda v: v["voted"] and v["following"], timeout_s=60)
        await eventually(user, f"/v1/issues/{mine}", lambda i: len(i["comments"]) == 1, timeout_s=60)
        moments = {"moments": {"followed_comment_added": {"email": True}}}
        assert (await user.put("/v1/me/notification-preferences", json=moments)).status_code == 200
        watch = await user.post("/v1/me/watches", json={"lat": HERE["lat"], "lon": HERE["lon"], "radius_m": 500})
        assert watch.status_code == 201, watch.text
        device = await user.put(f"/v1/me/devices/phone-{tag}", json={"platform": "fcm", "token": f"token-{tag}"})
        assert device.status_code == 200, device.text
        feed = await eventually(user, "/v1/me/notifications", lambda f: bool(f["items"]), timeout_s=60)
        assert any(n["issue_id"] == mine for n in feed["items"]), feed

        # -- the export ------------------------------------------------------------------------------
        exported = await user.get("/v1/me/export")
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-disposition"].startswith("attachment;")
        assert exported.headers["cache-control"] == "no-store"
        data = exported.json()
        assert data["account"]["email"] == email
        assert data["account"]["display_name"] == name
        assert "password_hash" not in exported.text
        assert "$argon2" not in exported.text
        assert [r["id"] for r in data["issues"]["reports"]] == [mine]
        assert data["issues"]["reports"][0]["media_ids"] == [kept_photo]
        assert [c["body"] for c in data["issues"]["comments"]] == [f"Still there, {tag}"]
        assert [(v["issue_id"], v["active"]) for v in data["issues"]["votes"]] == [(theirs, True)]
        assert [(f["issue_id"], f["active"]) for f in data["issues"]["follows"]] == [(theirs, True)]
        assert any(n["issue_id"] == mine for n in data["notifications"]["notifications"])
        assert data["notifications"]["preferences"]["moments"]["followed_comment_added"] == {"email": True}
        assert [w["id"] for w in data["notifications"]["watches"]] == [watch.json()["id"]]
        assert [d["device_id"] for d in data["notifications"]["devices"]] == [f"phone-{tag}"]
        assert f"token-{tag}" not in exported.text  # a push token is a credential, not the user's data
        # Another user's export never holds this one's data.
        assert email not in (await neighbour.get("/v1/me/export")).text

        # -- the deletion ----------------------------------------------------------------------------
        wrong = await user.request("DELETE", "/v1/me", json={"password": "not-the-password-at-all"})
        assert wrong.status_code == 403, wrong.text
        assert wrong.json()["error"] == "wrong_password"
        gone_id = user_id(user)
        withdrawn_photo = await upload(user, photo())
        assert (await eventually(user, f"/v1/media/{withdrawn_photo}", settled, timeout_s=60))["status"] == "processed"
        withdrawn = await _report(user, media_ids=[withdrawn_photo])
        await _accepted(await user.post(f"/v1/issues/{withdrawn}/transitions", json={"to": "withdrawn"}))
        await eventually(user, f"/v1/issues/{withdrawn}", lambda i: i["status"] == "withdrawn", timeout_s=60)
        deleted = await user.request("DELETE", "/v1/me", json={"password": PASSWORD})
        assert deleted.status_code == 204, deleted.text
        deadline = time.monotonic() + 5
        while (await user.get("/v1/me")).status_code != 401:  # the session ended with the account
            assert time.monotonic() < deadline, "the deleted account's session still answers"
            await asyncio.sleep(0.1)
        refused = await anonymous.post(
            "/v1/auth/token", data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_grant"

        # -- what stays, what goes -------------------------------------------------------------------
        public = await eventually(
            anonymous,
            f"/v1/issues/{mine}",
            lambda i: i["reporter_id"] is None and all(c["author_id"] is None for c in i["comments"]),
            timeout_s=ERASED_WITHIN_S,
        )
        assert public["media_ids"] == [kept_photo]
        assert gone_id not in (await anonymous.get(f"/v1/issues/{mine}")).text
        # The withdrawal in the other report's public history no longer names who withdrew it.
        settled_history = await eventually(
            anonymous,
            f"/v1/issues/{withdrawn}",
            lambda i: i["status"] == "withdrawn" and all(h["actor_id"] is None for h in i["history"]),
            timeout_s=ERASED_WITHIN_S,
        )
        assert [h["to"] for h in settled_history["history"]] == ["withdrawn"]
        assert public["comments"][0]["body"] == f"Still there, {tag}"
        await eventually(neighbour, f"/v1/issues/{theirs}", lambda i: i["votes"] == 0, timeout_s=ERASED_WITHIN_S)
        assert (await anonymous.get(f"/v1/media/{kept_photo}/thumb.webp")).status_code == 200
        deadline = time.monotonic() + ERASED_WITHIN_S
        for gone in (loose_photo, withdrawn_photo):
            while (await anonymous.get(f"/v1/media/{gone}/thumb.webp")).status_code != 410:
                assert time.monotonic() < deadline, f"photo {gone} of the deleted account was not deleted"
                await asyncio.sleep(0.5)

        # The address can register a new account at once (the old one is a tombstone without it).
        again = await anonymous.post(
            "/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Someone new"}
        )
        assert again.status_code == 202
        newcomer = await sign_in(system, email)
        try:  # a new account, not the old one
            assert (await newcomer.get("/v1/me")).json()["display_name"] == "Someone new"
        finally:
            await newcomer.aclose()
    finally:
        for client in (user, neighbour, anonymous):
            await client.aclose()


async def test_after_deletion_no_store_of_any_service_holds_the_address_or_the_name(
    system: System, mailbox: Mailbox
) -> None:
    tag = uuid4().hex[:12]
    email, name = f"erased-{tag}@example.org", f"Erased Person {tag}"
    user = await _register(system, mailbox, email, name)
    try:
        mine = await _report(user, media_ids=[await upload(user, photo())])
        await _accepted(await user.post(f"/v1/issues/{mine}/comments", json={"body": "Deep"}))
        await _accepted(await user.put(f"/v1/issues/{mine}/follow"))
        assert (
            await user.post("/v1/me/watches", json={"lat": 12.93, "lon": 77.62, "radius_m": 300})
        ).status_code == 201
        await eventually(user, "/v1/me/notifications", lambda f: bool(f["items"]), timeout_s=60)
        await upload(user, photo())  # never named by a report
        needles = [email.lower().encode(), name.lower().encode()]
        # Before: the stores hold them (the test can see what it looks for).
        assert await _holding(system.stack, needles)
        assert (await user.request("DELETE", "/v1/me", json={"password": PASSWORD})).status_code == 204
    finally:
        await user.aclose()
    deadline = time.monotonic() + ERASED_WITHIN_S
    while found := await _holding(system.stack, needles):
        assert time.monotonic() < deadline, f"still held {ERASED_WITHIN_S:.0f} s after the deletion: {found}"
        await asyncio.sleep(1)
