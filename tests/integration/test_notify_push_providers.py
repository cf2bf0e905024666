"""Notify's real push senders with the real device registry (FerretDB behind notify's API).

Google and Apple cannot be reached from a test, so the providers are the local fakes of
tests/push_fakes.py, which check the protocol: the FCM token endpoint verifies the
service account's signed assertion, the APNs fake speaks HTTP/2 over TLS and verifies the
ES256 provider token. Everything on notify's side is what runs in production: settings,
transport_for, PushChannel, the DeviceRepository on FerretDB, the devices API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from snapfix_notify.channels import Notice, push
from snapfix_notify.config import NotifySettings
from snapfix_shared.runtime import Runtime
from tests.builders import as_viewer
from tests.push_fakes import FakeApns, FakeFcm, FcmAnswer, apns_key, tls_for_loopback
from tests.stack import Stack

pytestmark = pytest.mark.integration

TOPIC = "example.snapfix.it"


@dataclass
class Notify:
    http: httpx.AsyncClient
    app: FastAPI
    fcm: FakeFcm
    apns: FakeApns


@pytest.fixture(scope="module")
async def notify(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Notify]:
    directory: Path = tmp_path_factory.mktemp("push")
    fcm = (await FakeFcm().start()).with_service_account()
    (directory / "fcm.json").write_text(json.dumps(fcm.service_account))
    tls = tls_for_loopback(directory)
    pem, apns_public = apns_key()
    (directory / "AuthKey.p8").write_text(pem)
    apns = await FakeApns(tls.server, apns_public, "KEYID12345", "TEAMID1234", TOPIC).start()
    run = uuid4().hex[:8]
    settings = NotifySettings(
        kafka_bootstrap_servers=stack.kafka,
        mongo_url=stack.mongo_url,
        redis_url=stack.redis_url,
        mongo_database=f"snapfix_notify_push_it_{run}",
        webhooks_group=f"notify-webhooks-push-it-{run}",
        push_transport="providers",
        fcm_service_account_file=str(directory / "fcm.json"),
        fcm_base_url=fcm.base_url,
        apns_key_file=str(directory / "AuthKey.p8"),
        apns_key_id="KEYID12345",
        apns_team_id="TEAMID1234",
        apns_topic=TOPIC,
        apns_server=f"127.0.0.1:{apns.port}",
        apns_ca_file=str(tls.ca_file),
        push_timeout_s=5,
    )
    runtime = Runtime("notify", settings, mongo_database=settings.mongo_database)
    app = runtime.app(title="notify (push)")
    push.install(runtime, app, settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as http,
        ):
            yield Notify(http, app, fcm, apns)
    finally:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
        try:
            await mongo.drop_database(settings.mongo_database)
        finally:
            await mongo.close()
        await apns.stop()
        await fcm.stop()


async def test_each_platform_gets_its_provider_and_dead_tokens_leave_the_registry(notify: Notify) -> None:
    user = f"user-{uuid4().hex[:8]}"
    me = as_viewer(user, "citizen")
    run = uuid4().hex[:6]
    phones = {"pixel": "fcm", "old-pixel": "fcm", "iphone": "apns", "old-iphone": "apns"}
    for device_id, platform in phones.items():
        body = {"platform": platform, "token": f"{device_id}-{run}"}
        registered = await notify.http.put(f"/v1/me/devices/{device_id}", json=body, headers=me)
        assert registered.status_code == 200, registered.text
    notify.fcm.answers[f"old-pixel-{run}"] = FcmAnswer(404, "UNREGISTERED")
    notify.apns.answers[f"old-iphone-{run}"] = (410, "Unregistered")
    notice = Notice(
        key=f"evt-{uuid4()}/{user}/push",
        recipient_id=user,
        moment="issue.status_changed",
        title="Your report was acknowledged",
        text="A crew is scheduled.",
        data={"issue_id": "issue-42"},
    )

    await notify.app.state.push.channel.deliver(notice)

    assert notify.fcm.refused_assertions == []
    assert notify.apns.refused == []
    fcm_tokens = {m["token"] for m in notify.fcm.messages}
    assert {f"pixel-{run}", f"old-pixel-{run}"} <= fcm_tokens
    apns_paths = {r.headers[":path"] for r in notify.apns.received}
    assert {f"/3/device/iphone-{run}", f"/3/device/old-iphone-{run}"} <= apns_paths
    left = await notify.http.get("/v1/me/devices", headers=me)
    assert left.status_code == 200
    assert sorted(d["device_id"] for d in left.json()) == ["iphone", "pixel"]
