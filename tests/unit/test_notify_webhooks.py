"""Webhooks of the notify service, in memory: signatures, payloads, filters, the retry schedule."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import httpx
import pytest
from beanie.exceptions import CollectionWasNotInitialized
from fastapi import FastAPI
from uuid_utils.compat import uuid7

from snapfix_notify.channels.webhook import api
from snapfix_notify.channels.webhook.models import WebhookEndpoint
from snapfix_notify.channels.webhook.payloads import matches, payload
from snapfix_notify.channels.webhook.policy import DisablePolicy, RetryPolicy, outcome
from snapfix_notify.channels.webhook.sender import WebhookSender
from snapfix_notify.channels.webhook.service import deliveries_for, delivery_id
from snapfix_notify.channels.webhook.signing import new_secret, signed_headers
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages import (
    IssueAssigned,
    IssueCommented,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    Location,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.problems import install_problem_handlers
from tests.builders import as_viewer
from tests.webhook_receiver import receiver, spec_signature, verifies

pytestmark = pytest.mark.unit

# The test vector published with the Standard Webhooks reference implementations.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def make_reported(**overrides: Any) -> IssueReported:
    fields: dict[str, Any] = {
        "issue_id": uuid7(),
        "title": "Pothole on Main St",
        "description": "Deep",
        "category": "pothole",
        "location": Location(lat=52.5, lon=13.4),
        "reported_at": utcnow(),
        "correlation_id": f"test-{uuid4()}",
        "actor_id": "user-secret-reporter",
    }
    fields.update(overrides)
    return IssueReported(**fields)


def make_endpoint(**overrides: Any) -> WebhookEndpoint:
    fields: dict[str, Any] = {
        "id": uuid7(),
        "url": "https://integrator.example/hook",
        "event_types": ["*"],
        "secret": new_secret(),
        "created_at": utcnow() - timedelta(minutes=1),
        "created_by": "admin-1",
    }
    fields.update(overrides)
    return WebhookEndpoint.model_construct(**fields)  # no Beanie init in memory


def test_the_signature_reproduces_the_specification_vector() -> None:
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, at=at)
    assert headers["webhook-signature"] == SPEC_SIGNATURE
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)


def test_the_tests_own_verifier_reproduces_the_specification_vector() -> None:
    assert spec_signature(SPEC_SECRET, SPEC_ID, str(SPEC_TIMESTAMP), SPEC_BODY.encode()) == SPEC_SIGNATURE


def test_a_fresh_signature_verifies_and_a_tampered_body_does_not() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", '{"a":1}')
    assert verifies(secret, headers, b'{"a":1}')
    assert not verifies(secret, headers, b'{"a":2}')
    assert not verifies(new_secret(), headers, b'{"a":1}')


def test_secrets_have_the_spec_format_and_never_repeat() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) >= 24
    assert first != second


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
        (408, "retry"),
        (429, "retry"),
        (301, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "gone"),
    ],
)
def test_what_an_answer_means(status: int | None, expected: str) -> None:
    assert outcome(status) == expected


def test_retry_delays_grow_exponentially_with_bounded_jitter_then_stop() -> None:
    policy = RetryPolicy(base_s=1.0, max_s=30.0, jitter_s=1.0, max_attempts=6)
    delays = [policy.delay_s(n) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        assert delay is not None
        assert 2 ** (n - 1) <= delay <= min(30.0, 2 ** (n - 1) + 1.0)
    assert delays == sorted(delays)
    assert policy.delay_s(6) is None


def test_retry_delays_are_capped() -> None:
    policy = RetryPolicy(base_s=1.0, max_s=10.0, jitter_s=1.0, max_attempts=50)
    assert policy.delay_s(20) == 10.0


def test_jitter_spreads_retries_of_the_same_attempt() -> None:
    policy = RetryPolicy(base_s=1.0, max_s=100.0, jitter_s=1.0, max_attempts=10)
    assert len({policy.delay_s(3) for _ in range(20)}) > 1


def test_an_endpoint_is_disabled_after_consecutive_failures_or_a_long_failing_time() -> None:
    policy = DisablePolicy(after_failures=5, after_s=3600)
    now = utcnow()
    assert policy.reason(4, now - timedelta(minutes=10), now) is None
    assert policy.reason(5, now - timedelta(minutes=10), now) is not None
    assert policy.reason(2, now - timedelta(hours=2), now) is not None
    assert policy.reason(0, None, now) is None


def test_filters_take_listed_types_or_every_published_type() -> None:
    assert matches(["*"], "IssueReported")
    assert matches(["IssueReported"], "IssueReported")
    assert not matches(["IssueStatusChanged"], "IssueReported")
    assert not matches(["*"], "IssueFollowed")  # never published


def test_the_payload_follows_the_spec_shape_and_hides_the_reporter() -> None:
    event = make_reported(anonymous=True)
    body = payload(event)
    assert body is not None
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "IssueReported"
    assert body["timestamp"] == event.occurred_at.isoformat()
    assert body["data"]["issue_id"] == str(event.issue_id)
    assert body["data"]["title"] == "Pothole on Main St"
    assert "user-secret-reporter" not in json.dumps(body)
    assert "correlation_id" not in json.dumps(body)


def test_internal_comments_and_follows_are_never_published() -> None:
    common: dict[str, Any] = {"issue_id": uuid7(), "correlation_id": "c", "actor_id": "staff-1"}
    internal = IssueCommented(comment_id=uuid7(), body="crew notes", internal=True, commented_at=utcnow(), **common)
    public = IssueCommented(comment_id=uuid7(), body="fixed soon", commented_at=utcnow(), **common)
    assert payload(internal) is None
    assert payload(IssueFollowed(follow=True, **common)) is None
    published = payload(public)
    assert published is not None
    assert published["data"]["body"] == "fixed soon"
    assert "staff-1" not in json.dumps(published)


def test_an_assignment_names_the_department_not_the_staff_member() -> None:
    event = IssueAssigned(
        issue_id=uuid7(), correlation_id="c", department="roads", assignee_id="staff-42", priority="high"
    )
    body = payload(event)
    assert body is not None
    assert body["data"]["department"] == "roads"
    assert "staff-42" not in json.dumps(body)


def test_deliveries_go_to_matching_endpoints_registered_before_the_event() -> None:
    event = IssueStatusChanged(
        issue_id=uuid7(),
        correlation_id="c",
        from_status="open",
        to_status="acknowledged",
        category="pothole",
        changed_at=utcnow(),
    )
    every = make_endpoint()
    status_only = make_endpoint(event_types=["IssueStatusChanged"])
    reports_only = make_endpoint(event_types=["IssueReported"])
    too_new = make_endpoint(created_at=utcnow() + timedelta(seconds=5))
    at = utcnow()

    deliveries = deliveries_for(event, [every, status_only, reports_only, too_new], at)

    assert [d.endpoint_id for d in deliveries] == [every.id, status_only.id]
    assert {d.id for d in deliveries} == {
        delivery_id(event.message_id, every.id),
        delivery_id(event.message_id, status_only.id),
    }
    assert all(d.status == "pending" and d.next_attempt_at == at for d in deliveries)
    assert json.loads(deliveries[0].body)["data"]["to_status"] == "acknowledged"


def test_a_delivery_id_is_stable_and_sorts_by_event_time() -> None:
    endpoint = uuid7()
    older, newer = uuid7(), uuid7()
    assert delivery_id(older, endpoint) == delivery_id(older, endpoint)
    assert delivery_id(older, endpoint) < delivery_id(newer, endpoint)


async def test_http_urls_are_refused_where_https_is_required() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(api.router)
    app.state.webhooks = SimpleNamespace(
        settings=NotifySettings(webhook_https_only=True), endpoints=None, deliveries=None
    )
    admin = as_viewer("a1", "admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as http:
        body = {"url": "http://integrator.example/hook", "event_types": ["*"]}
        response = await http.post("/v1/admin/webhooks", json=body, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "https" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://127.0.0.1/hook", True),
        ("https://10.1.2.3/hook", True),
        ("https://169.254.169.254/latest", True),
        ("https://[::1]/hook", True),
        ("https://localhost/hook", True),
        ("https://notify.internal/hook", True),
        ("https://93.184.215.14/hook", False),
        ("https://integrator.example/hook", False),  # names are checked at each connection
    ],
)
async def test_private_addresses_are_refused_where_only_public_ones_are_allowed(url: str, refused: bool) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(api.router)
    created: list[Any] = []

    class Endpoints:
        async def create(self, endpoint: Any) -> None:
            created.append(endpoint)

    app.state.webhooks = SimpleNamespace(
        settings=NotifySettings(webhook_allow_private=False), endpoints=Endpoints(), deliveries=None
    )
    admin = as_viewer("a1", "admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as http:
        try:
            response = await http.post("/v1/admin/webhooks", json={"url": url, "event_types": ["*"]}, headers=admin)
        except CollectionWasNotInitialized:  # got past the checks to building the (unbound) document
            response = None
    if refused:
        assert response is not None
        assert response.status_code == 422
        assert "public address" in response.json()["detail"]
    else:
        assert response is None or response.status_code == 201


async def test_the_sender_refuses_a_name_resolving_to_a_private_address() -> None:
    async with receiver() as hook:
        url = hook.url.replace("127.0.0.1", "localhost") + "/hook"
        answers = {}
        for allow_private in (True, False):
            sender = WebhookSender(timeout_s=2, max_connections=2, allow_private=allow_private)
            await sender.open()
            try:
                answers[allow_private] = await sender.send(url, new_secret(), "msg_1", "{}")
            finally:
                await sender.close()
    assert answers[True].status == 200  # the receiver is there, on loopback
    assert answers[False].status is None
    assert len(hook.requests) == 1


def test_a_failed_delivery_is_announced_with_its_endpoint_as_recipient() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from snapfix_notify.channels.webhook.failures import failure_event
    from snapfix_notify.channels.webhook.models import WebhookDelivery

    endpoint_id, event_id = uuid4(), uuid4()
    base = {
        "id": f"msg_{event_id.hex}_{endpoint_id.hex}",
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": "IssueReported",
        "body": "{}",
        "status": "failed",
        "created_at": datetime.now(UTC),
    }
    refused = failure_event(
        WebhookDelivery.model_construct(  # a Beanie document, never stored here
            **base,
            attempt_count=1,
            attempts=[{"status_code": 400, "error": "HTTP 400"}],
            reason="refused for good (HTTP 400)",
        )
    )
    assert (refused.recipient_id, refused.endpoint_id) == (str(endpoint_id), str(endpoint_id))
    assert (refused.channel, refused.moment, refused.reason) == ("webhook", "IssueReported", "permanent")
    assert refused.notification_key == base["id"]
    assert refused.cause_id == str(event_id)
    assert refused.error == "refused for good (HTTP 400)"  # the last error is in the reason already
    exhausted = failure_event(
        WebhookDelivery.model_construct(
            **base, attempt_count=8, attempts=[{"error": "HTTP 503"}] * 8, reason="gave up after 8 attempts"
        )
    )
    assert (exhausted.reason, exhausted.attempts) == ("exhausted", 8)
    assert exhausted.error == "gave up after 8 attempts: HTTP 503"


async def test_failures_left_unannounced_are_published_by_the_sweep_and_marked_only_when_acked() -> None:
    from snapfix_notify.channels.webhook.dispatcher import Dispatcher
    from snapfix_notify.channels.webhook.models import WebhookDelivery
    from snapfix_shared.kafka import PublishFailed
    from snapfix_shared.messages import NotificationFailed

    endpoint_id, event_id = uuid4(), uuid4()
    left = WebhookDelivery.model_construct(
        id=f"msg_{event_id.hex}_{endpoint_id.hex}",
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type="IssueReported",
        status="failed",
        attempt_count=1,
        attempts=[{"error": "HTTP 400"}],
        reason="refused for good (HTTP 400)",
        announced=False,
    )
    marked: list[str] = []
    published: list[NotificationFailed] = []
    kafka_up = False

    step_id = f"{left.id}.0001"

    async def unannounced(_limit: int) -> list[tuple[str, WebhookDelivery]]:
        return [] if marked else [(step_id, left)]

    async def mark_announced(failing_step_id: str) -> None:
        marked.append(failing_step_id)

    async def announce(event: NotificationFailed) -> None:
        if not kafka_up:
            raise PublishFailed("no ack")
        published.append(event)

    deliveries: Any = SimpleNamespace(unannounced=unannounced, mark_announced=mark_announced)
    dispatcher = Dispatcher(
        SimpleNamespace(),  # type: ignore[arg-type]
        deliveries,
        SimpleNamespace(),  # type: ignore[arg-type]
        queue=SimpleNamespace(),  # type: ignore[arg-type]
        retry=RetryPolicy(base_s=1, max_s=2, jitter_s=0, max_attempts=2),
        disable=DisablePolicy(after_failures=3, after_s=60),
        concurrency=2,
        store_concurrency=1,
        poll_s=0.1,
        lease_s=5,
        announce=announce,
    )
    await dispatcher._sweep_unannounced()
    assert (published, marked) == ([], [])  # not acked: stays unannounced for the next sweep
    kafka_up = True
    dispatcher._next_sweep = 0.0
    await dispatcher._sweep_unannounced()
    assert [e.notification_key for e in published] == [left.id]
    assert marked == [step_id]  # the step that failed it
    await dispatcher._sweep_unannounced()  # nothing left, and not due again yet
    assert len(published) == 1
