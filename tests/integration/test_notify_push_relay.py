"""Notify's push relay and device registry against the real stack: each device's notice posted,
signed per the Standard Webhooks specification, to a real HTTP receiver on loopback; a user
sees and removes only their own devices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from snapfix_notify.channels import Notice
from tests.builders import as_viewer
from tests.integration.webhooks_app import RELAY_SECRET, Notify, running_webhooks
from tests.stack import Stack
from tests.webhook_receiver import verifies

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notify(stack: Stack) -> AsyncIterator[Notify]:
    async with running_webhooks(stack) as running:
        yield running


async def test_push_goes_to_each_device_through_the_signed_relay(notify: Notify) -> None:
    user = f"user-{uuid4().hex[:8]}"
    me = as_viewer(user, "citizen")
    for device_id, platform in (("pixel-8", "fcm"), ("iphone-15", "apns")):
        registered = await notify.http.put(
            f"/v1/me/devices/{device_id}", json={"platform": platform, "token": f"tok-{device_id}"}, headers=me
        )
        assert registered.status_code == 200, registered.text
    notice = Notice(
        key=f"evt-{uuid4()}/{user}/push",
        recipient_id=user,
        moment="issue.status_changed",
        title="Your report was acknowledged",
        text="A crew is scheduled.",
        data={"issue_id": "issue-42"},
    )
    before = len(notify.relay.on("/push"))

    await notify.app.state.push.channel.deliver(notice)

    posts = notify.relay.on("/push")[before:]
    assert len(posts) == 2
    assert all(verifies(RELAY_SECRET, p.headers, p.body) for p in posts)
    by_type = {p.json()["type"]: p.json()["data"] for p in posts}
    fcm, apns = by_type["push.fcm"], by_type["push.apns"]
    assert fcm["device_id"] == "pixel-8"
    assert fcm["message"]["message"]["token"] == "tok-pixel-8"
    assert fcm["message"]["message"]["notification"] == {"title": notice.title, "body": notice.text}
    assert fcm["message"]["message"]["data"]["issue_id"] == "issue-42"
    assert apns["device_id"] == "iphone-15"
    assert apns["path"] == "/3/device/tok-iphone-15"
    assert apns["message"]["aps"]["alert"] == {"title": notice.title, "body": notice.text}
    assert apns["headers"]["apns-topic"] == "example.snapfix.it"
    assert apns["headers"]["apns-push-type"] == "alert"
    assert apns["headers"]["apns-collapse-id"] == "issue-42"
    UUID(apns["headers"]["apns-id"])


async def test_a_user_sees_and_removes_only_their_own_devices(notify: Notify) -> None:
    alice = as_viewer(f"alice-{uuid4().hex[:6]}", "citizen")
    bob = as_viewer(f"bob-{uuid4().hex[:6]}", "citizen")
    token = f"shared-phone-{uuid4().hex[:6]}"
    assert (
        await notify.http.put("/v1/me/devices/phone", json={"platform": "fcm", "token": token}, headers=alice)
    ).status_code == 200
    assert [d["device_id"] for d in (await notify.http.get("/v1/me/devices", headers=alice)).json()] == ["phone"]
    assert (await notify.http.get("/v1/me/devices", headers=bob)).json() == []
    assert (await notify.http.delete("/v1/me/devices/phone", headers=bob)).status_code == 404

    # The phone changes hands: its token leaves Alice's account.
    assert (
        await notify.http.put("/v1/me/devices/mine", json={"platform": "fcm", "token": token}, headers=bob)
    ).status_code == 200
    assert (await notify.http.get("/v1/me/devices", headers=alice)).json() == []
    assert (await notify.http.delete("/v1/me/devices/mine", headers=bob)).status_code == 204
    assert (await notify.http.get("/v1/me/devices", headers=bob)).json() == []
