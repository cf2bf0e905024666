"""The notify service answers what its OpenAPI document (and the gateway's) says: ``snapfix_shared.schemas.notify``.

The gateway relays these answers unread and documents them with the same models, so every JSON
answer a client can get through it is checked here against its model, whose ``extra="forbid"``
fails on any field the document does not name and whose required fields fail when one is left
out: the feed (a page with a cursor, then the last), marking read, preferences, area watches
(a circle and cells), push devices, a user's export, webhook endpoints and their delivery log
(a failed attempt, then a delivered one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, TypeAdapter

from snapfix_shared.schemas.notify import (
    CreatedEndpoint,
    DeliveryPage,
    DeviceView,
    EndpointView,
    FeedPage,
    MarkedRead,
    NotifyPart,
    Preferences,
    WatchList,
    WatchView,
)
from tests.builders import as_viewer
from tests.integration.notify_app import Notify, reported, running_notify
from tests.integration.notify_moments import feed, issue_events, people
from tests.mailbox import Mailbox
from tests.stack import Stack
from tests.webhook_receiver import receiver, scripted

pytestmark = pytest.mark.integration

ADMIN = as_viewer("admin-schemas-it", "admin")


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(
        stack,
        mailbox,
        webhook_https_only=False,  # the receiver is plain http on loopback
        webhook_allow_private=True,
        webhook_timeout_s=2.0,
        webhook_poll_s=0.1,
        webhook_backoff_base_s=0.3,
        webhook_backoff_jitter_s=0.1,
        webhook_backoff_max_s=2.0,
    ) as running:
        yield running


async def documented(
    notify: Notify,
    model: type[BaseModel] | TypeAdapter[Any],
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    status: int = 200,
    **kwargs: Any,
) -> Any:
    """The route's answer, validated against ``model``; its body as JSON."""
    response = await notify.http.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    if isinstance(model, TypeAdapter):
        model.validate_json(response.content)
    else:
        model.model_validate_json(response.content)
    return response.json()


async def test_the_feed_preferences_watches_devices_and_export_are_what_the_document_says(
    stack: Stack, notify: Notify
) -> None:
    ((user, _),) = await people(stack, "citizen")
    me = notify.as_user(user)
    await issue_events(stack, reported(user), reported(user))
    await feed(notify, user, count=2)

    first = await documented(notify, FeedPage, "GET", "/v1/me/notifications", headers=me, params={"limit": 1})
    assert first["next_cursor"] is not None
    assert first["items"][0]["read"] is False
    last = await documented(
        notify, FeedPage, "GET", "/v1/me/notifications", headers=me, params={"cursor": first["next_cursor"]}
    )
    assert last["next_cursor"] is None
    assert len(last["items"]) == 1
    read = await notify.http.post(f"/v1/me/notifications/{first['items'][0]['id']}/read", headers=me)
    assert read.status_code == 204
    marked = await documented(notify, MarkedRead, "POST", "/v1/me/notifications/read-all", headers=me)
    assert marked == {"marked": 1}

    defaults = await documented(notify, Preferences, "GET", "/v1/me/notification-preferences", headers=me)
    assert "email" in defaults["channels"]
    change = {"moments": {"area_report": {"push": True}}}
    changed = await documented(notify, Preferences, "PUT", "/v1/me/notification-preferences", headers=me, json=change)
    assert changed["moments"]["area_report"]["push"] is True

    circle = {"lat": 52.52, "lon": 13.405, "radius_m": 500, "categories": ["pothole"]}
    made = await documented(notify, WatchView, "POST", "/v1/me/watches", headers=me, status=201, json=circle)
    assert made["cells"]
    cells = await documented(
        notify, WatchView, "POST", "/v1/me/watches", headers=me, status=201, json={"cells": ["u33dc0"], "digest": True}
    )
    assert (cells["lat"], cells["cells"]) == (None, ["u33dc0"])
    watches = await documented(notify, WatchList, "GET", "/v1/me/watches", headers=me)
    assert {w["id"] for w in watches["items"]} == {made["id"], cells["id"]}

    device = {"platform": "fcm", "token": f"tok-{uuid4().hex}"}
    await documented(notify, DeviceView, "PUT", "/v1/me/devices/phone-1", headers=me, json=device)
    devices = await documented(notify, TypeAdapter(list[DeviceView]), "GET", "/v1/me/devices", headers=me)
    assert [d["device_id"] for d in devices] == ["phone-1"]

    export = await documented(notify, NotifyPart, "GET", f"/v1/users/{user}/export", headers=me)
    assert (len(export["notifications"]), len(export["watches"]), len(export["devices"])) == (2, 2, 1)
    assert export["preferences"] is not None
    assert "token" not in export["devices"][0]


async def test_webhook_endpoints_and_their_delivery_log_are_what_the_document_says(
    stack: Stack, notify: Notify
) -> None:
    async with receiver(scripted(500)) as hook:  # the first attempt fails, the retry is taken
        body = {"url": hook.url, "event_types": ["IssueReported"], "description": "schemas"}
        created = await documented(
            notify, CreatedEndpoint, "POST", "/v1/admin/webhooks", headers=ADMIN, status=201, json=body
        )
        endpoint = f"/v1/admin/webhooks/{created['id']}"
        try:
            assert created["secret"].startswith("whsec_")
            listed = await documented(
                notify, TypeAdapter(list[EndpointView]), "GET", "/v1/admin/webhooks", headers=ADMIN
            )
            assert created["id"] in {e["id"] for e in listed}
            one = await documented(notify, EndpointView, "GET", endpoint, headers=ADMIN)
            assert "secret" not in one
            await documented(notify, EndpointView, "POST", f"{endpoint}/enable", headers=ADMIN)

            ((reporter, _),) = await people(stack, "citizen")
            await issue_events(stack, reported(reporter))
            page: dict[str, Any] = {}
            for _ in range(300):
                page = await documented(notify, DeliveryPage, "GET", f"{endpoint}/deliveries", headers=ADMIN)
                if page["items"] and page["items"][0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            (delivery,) = page["items"]
            assert delivery["status"] == "delivered", delivery
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
            assert delivery["attempts"][0]["retry_in_s"] is not None
            assert page["next_cursor"] is None
        finally:
            await notify.http.delete(endpoint, headers=ADMIN)
