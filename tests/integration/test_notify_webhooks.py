"""Notify's webhooks against the real stack: Kafka in, FerretDB behind, a real HTTP receiver on
loopback out. Signatures are checked with the tests' own implementation of the Standard
Webhooks specification (tests/webhook_receiver.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import pytest
from uuid_utils.compat import uuid7

from snapfix_shared.messages import NOTIFY_EVENTS, IssueCommented, IssueReported, Location, Message
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.builders import as_viewer
from tests.integration.webhooks_app import ADMIN, DISABLE_AFTER, Notify, running_webhooks
from tests.stack import Stack, header, produce, read_topic
from tests.webhook_receiver import receiver, scripted, verifies

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def notify(stack: Stack) -> AsyncIterator[Notify]:
    async with running_webhooks(stack) as running:
        yield running


@pytest.fixture
async def endpoints(notify: Notify) -> AsyncIterator[Callable[..., Any]]:
    """Registers endpoints through the admin API; deletes them after the test."""
    made: list[str] = []

    async def register(url: str, event_types: list[str] | None = None) -> dict[str, Any]:
        body = {"url": url, "event_types": event_types or ["*"], "description": "it"}
        response = await notify.http.post("/v1/admin/webhooks", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
        return response.json()  # type: ignore[no-any-return]

    yield register
    for endpoint_id in made:
        await notify.http.delete(f"/v1/admin/webhooks/{endpoint_id}", headers=ADMIN)


def make_reported(**overrides: Any) -> IssueReported:
    fields: dict[str, Any] = {
        "issue_id": uuid7(),
        "title": f"Pothole {uuid4().hex[:6]}",
        "category": "pothole",
        "location": Location(lat=52.5, lon=13.4),
        "reported_at": utcnow(),
        "correlation_id": f"it-{uuid4()}",
        "actor_id": f"reporter-{uuid4().hex[:8]}",
    }
    fields.update(overrides)
    return IssueReported(**fields)


async def publish(stack: Stack, event: Message) -> bytes:
    body = event.model_dump_json().encode()
    await produce(stack.kafka, Topic.ISSUES_EVENTS, body, key=event.partition_key().encode())
    return body


async def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout_s}s")


async def delivery_log(notify: Notify, endpoint_id: str, **params: Any) -> dict[str, Any]:
    response = await notify.http.get(f"/v1/admin/webhooks/{endpoint_id}/deliveries", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_an_issue_event_reaches_the_webhook_signed_per_the_spec(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver() as hook:
        endpoint = await endpoints(f"{hook.url}/snapfix", ["IssueReported"])
        assert endpoint["secret"].startswith("whsec_")
        event = make_reported(anonymous=True)
        await publish(stack, event)

        [request] = await wait_for(lambda: hook.on("/snapfix"), "the delivery")

    assert verifies(endpoint["secret"], request.headers, request.body)
    assert not verifies("whsec_" + "A" * 32, request.headers, request.body)
    body = request.json()
    assert body["type"] == "IssueReported"
    assert body["data"]["issue_id"] == str(event.issue_id)
    assert body["data"]["title"] == event.title
    assert event.actor_id not in request.body.decode()  # an anonymous reporter stays hidden
    log = await wait_for(
        lambda: _delivered(notify, endpoint["id"]), "the delivery to be marked delivered", timeout_s=10
    )
    [delivery] = log["items"]
    assert delivery["id"] == request.headers["webhook-id"]
    assert delivery["event_id"] == str(event.message_id)
    assert [a["status_code"] for a in delivery["attempts"]] == [200]


async def _delivered(notify: Notify, endpoint_id: str) -> dict[str, Any] | None:
    log = await delivery_log(notify, endpoint_id)
    done = log["items"] and all(d["status"] != "pending" for d in log["items"])
    return log if done else None


async def test_a_receiver_failing_twice_gets_three_attempts_with_growing_delays(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver(scripted(500, 503)) as hook:
        endpoint = await endpoints(hook.url + "/flaky")
        await publish(stack, make_reported())
        await wait_for(lambda: len(hook.requests) >= 3, "three attempts")
        log = await wait_for(lambda: _delivered(notify, endpoint["id"]), "the delivered mark", timeout_s=10)

    assert len(hook.requests) == 3
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1  # one delivery, retried
    assert all(verifies(endpoint["secret"], r.headers, r.body) for r in hook.requests)
    [delivery] = log["items"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    first, second = delivery["attempts"][0]["retry_in_s"], delivery["attempts"][1]["retry_in_s"]
    assert first < second  # exponential: base + jitter, then twice the base + jitter
    gaps = [b.at - a.at for a, b in zip(hook.requests, hook.requests[1:], strict=False)]
    assert gaps[0] >= first * 0.95  # never retried before its backoff (a lower bound, not a speed check)
    assert gaps[1] >= second * 0.95


async def test_a_receiver_always_failing_disables_the_endpoint_until_enabled(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver(lambda _r: 500) as hook:
        endpoint = await endpoints(hook.url + "/down")
        await publish(stack, make_reported())

        async def disabled() -> dict[str, Any] | None:
            view = (await notify.http.get(f"/v1/admin/webhooks/{endpoint['id']}", headers=ADMIN)).json()
            return None if view["enabled"] else view

        view = await wait_for(disabled, "the endpoint to be disabled")
        log = await wait_for(lambda: _delivered(notify, endpoint["id"]), "the pending delivery to be settled")

    assert "consecutive failed attempts" in view["disabled_reason"]
    assert view["disabled_at"] is not None
    assert len(hook.requests) == DISABLE_AFTER  # nothing more is sent to a disabled endpoint
    [delivery] = log["items"]
    assert delivery["status"] == "cancelled"
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * DISABLE_AFTER
    assert all(a["error"].startswith("HTTP 500") for a in delivery["attempts"])

    enabled = await notify.http.post(f"/v1/admin/webhooks/{endpoint['id']}/enable", headers=ADMIN)
    assert enabled.status_code == 200
    assert enabled.json()["enabled"] is True
    assert enabled.json()["consecutive_failures"] == 0
    assert enabled.json()["disabled_reason"] is None


async def test_410_gone_disables_the_endpoint_at_once(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver(lambda _r: 410) as hook:
        endpoint = await endpoints(hook.url + "/gone")
        await publish(stack, make_reported())
        log = await wait_for(lambda: _delivered(notify, endpoint["id"]), "the delivery to fail")

    view = (await notify.http.get(f"/v1/admin/webhooks/{endpoint['id']}", headers=ADMIN)).json()
    assert view["enabled"] is False
    assert "410" in view["disabled_reason"]
    assert len(hook.requests) == 1
    assert log["items"][0]["status"] == "failed"


async def test_a_delivery_failed_for_good_is_announced_once_as_notification_failed(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver(lambda _r: 400) as hook:
        endpoint = await endpoints(hook.url + "/refuses")
        event = make_reported()
        await publish(stack, event)
        log = await wait_for(lambda: _delivered(notify, endpoint["id"]), "the delivery to fail")
    [delivery] = log["items"]
    assert delivery["status"] == "failed"

    def about_endpoint(record: Any) -> bool:
        return record.key == endpoint["id"].encode() and b'"NotificationFailed"' in (record.value or b"")

    # Asks for two, to see that there is only one (the wait for a second one ends at the timeout).
    found = await read_topic(stack.kafka, Topic.NOTIFY_EVENTS, about_endpoint, count=2, timeout_s=5)
    assert len(found) == 1
    failed = NOTIFY_EVENTS.validate_json(found[0].value)
    assert failed.channel == "webhook"
    assert failed.endpoint_id == failed.recipient_id == endpoint["id"]
    assert failed.notification_key == delivery["id"]
    assert failed.cause_id == str(event.message_id)
    assert failed.moment == "IssueReported"
    assert failed.reason == "permanent"
    assert failed.attempts == 1
    assert "400" in failed.error
    assert len(hook.requests) == 1


async def test_a_redelivered_event_is_delivered_once_and_internal_comments_never(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver() as hook:
        endpoint = await endpoints(hook.url + "/once")
        event = make_reported()
        common: dict[str, Any] = {"issue_id": event.issue_id, "correlation_id": "it", "commented_at": utcnow()}
        internal = IssueCommented(
            comment_id=uuid7(), body="crew only: the reporter is a neighbour", internal=True, **common
        )
        public = IssueCommented(comment_id=uuid7(), body="A crew is on its way", **common)
        body = await publish(stack, event)
        await publish(stack, internal)
        await produce(stack.kafka, Topic.ISSUES_EVENTS, body, key=event.partition_key().encode())  # redelivered
        await publish(stack, public)  # same issue, same partition: after the others
        await wait_for(lambda: len(hook.requests) >= 2, "two deliveries")
        log = await wait_for(lambda: _delivered(notify, endpoint["id"]), "the deliveries to settle")
        await asyncio.sleep(0.5)  # room for a wrong extra send to show up

    types = sorted(r.json()["type"] for r in hook.requests)
    assert types == ["IssueCommented", "IssueReported"]
    assert all("crew only" not in r.body.decode() for r in hook.requests)
    assert len(log["items"]) == 2


async def test_the_delivery_log_pages_with_a_cursor(
    stack: Stack, notify: Notify, endpoints: Callable[..., Any]
) -> None:
    async with receiver() as hook:
        endpoint = await endpoints(hook.url + "/paged")
        for _ in range(3):
            await publish(stack, make_reported())
        await wait_for(lambda: len(hook.requests) >= 3, "three deliveries")

    first = await delivery_log(notify, endpoint["id"], limit=2)
    assert len(first["items"]) == 2
    assert first["next_cursor"] == first["items"][-1]["id"]
    second = await delivery_log(notify, endpoint["id"], limit=2, cursor=first["next_cursor"])
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)  # newest event first
    assert len(set(ids)) == 3


async def test_a_poison_record_is_dead_lettered(stack: Stack, notify: Notify) -> None:
    key = f"poison-{uuid4()}".encode()
    await produce(stack.kafka, Topic.ISSUES_EVENTS, b"\x00 not an event", key=key)
    group = notify.settings.webhooks_group
    [dead] = await read_topic(
        stack.kafka,
        Topic.ISSUES_EVENTS.dlq,
        lambda r: r.key == key and header(r, "dlq_consumer_group") == group,
        timeout_s=30,
    )
    assert header(dead, "dlq_reason") == "invalid"


async def test_only_admins_manage_webhooks(notify: Notify) -> None:
    citizen = as_viewer("u1", "citizen")
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
    assert (await notify.http.post("/v1/admin/webhooks", json=body, headers=citizen)).status_code == 403
    assert (await notify.http.get("/v1/admin/webhooks", headers=citizen)).status_code == 403
    bad = {"url": "ftp://example.org/x", "event_types": ["NoSuchEvent"]}
    invalid = await notify.http.post("/v1/admin/webhooks", json=bad, headers=ADMIN)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in invalid.json()["errors"]} == {"url", "event_types"}
