"""Notify follows an administrator's changes of accounts (``UserUpdated``) on the real stack: a staff member
moved to another department hears of that department's reports and no longer of the old one's; a replayed
older event never undoes a newer one; a disabled account hears nothing (e-mail or in-app)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from snapfix_shared.messages import IssueAssigned, UserEmailVerified, UserUpdated
from snapfix_shared.topics import Topic
from tests.integration.notify_app import Notify, envelope, new_user_id, publish, registered, reported, running_notify
from tests.mailbox import Mailbox
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
async def notify(stack: Stack, mailbox: Mailbox) -> AsyncIterator[Notify]:
    async with running_notify(stack, mailbox) as running:
        yield running


def updated(user: str, *, departments: tuple[str, ...], disabled: bool = False, **fields: Any) -> UserUpdated:
    return UserUpdated(
        **envelope(**fields),
        user_id=UUID(user),
        role="staff",
        departments=departments,
        disabled=disabled,
        changed=("disabled",) if disabled else ("departments",),
    )


def to(address: str, words: str) -> Any:
    return lambda m: address.lower() in str(m["To"]).lower() and words in str(m["Subject"])


async def stored(stack: Stack, notify: Notify, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, timeoutMS=10_000)
    try:
        return await client[notify.settings.mongo_database][collection].find(query).to_list()
    finally:
        await client.close()


async def applied(stack: Stack, notify: Notify, user: str) -> dict[str, Any]:
    """The user's contact once its events so far are applied: the test ends each run of them with a
    ``UserEmailVerified`` (same key, so same partition: consumed after them) and waits until notify's users
    group has committed past that marker (committed once handled). Not on a field of the contact: a
    ``email_verified`` already true from an earlier run would say nothing of the events just published."""
    marker = UserEmailVerified(**envelope(), user_id=UUID(user))
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = await asyncio.wait_for(
            await producer.send(Topic.USERS_EVENTS, marker.model_dump_json().encode(), key=user.encode()), 30
        )
    finally:
        await producer.stop()
    where = TopicPartition(sent.topic, sent.partition)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka, request_timeout_ms=10_000)
    await admin.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(notify.settings.notify_users_group, partitions=[where])
            if where in committed and committed[where].offset > sent.offset:
                [contact] = await stored(stack, notify, "contacts", {"_id": user})
                assert contact["email_verified"] is True  # the marker itself was applied
                return contact
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    pytest.fail(f"the events of {user} were not applied in 30 s")


async def moved_to(stack: Stack, department: str) -> str:
    """A citizen's report moved to ``department`` with nobody assigned (its staff are told); its title."""
    citizen = new_user_id()
    await publish(stack.kafka, Topic.USERS_EVENTS, [registered(citizen)])
    report = reported(citizen, department=f"intake-{uuid4().hex[:6]}", title=f"Report {uuid4().hex[:8]}")
    move = IssueAssigned(
        **envelope(actor_id=new_user_id()), issue_id=report.issue_id, department=department, priority="normal"
    )
    await publish(stack.kafka, Topic.ISSUES_EVENTS, [report, move])
    return report.title


async def test_a_staff_member_moved_to_another_department_hears_of_its_reports_and_no_longer_of_the_old_ones(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    old, new = f"roads-{uuid4().hex[:6]}", f"parks-{uuid4().hex[:6]}"
    crew, email = new_user_id(), f"crew-{uuid4().hex[:8]}@example.org"
    await publish(stack.kafka, Topic.USERS_EVENTS, [registered(crew, email=email, role="staff", departments=[old])])
    await applied(stack, notify, crew)
    before = await moved_to(stack, old)
    await mailbox.wait_for(to(email, before))  # in the old department: told

    move = updated(crew, departments=(new,))
    # The change redelivered, then an older one replayed after it (an earlier instant): both left alone.
    stale = updated(crew, departments=(old,)).model_copy(update={"occurred_at": move.occurred_at - timedelta(hours=1)})
    await publish(stack.kafka, Topic.USERS_EVENTS, [move, move, stale])
    contact = await applied(stack, notify, crew)
    assert contact["departments"] == [new]
    assert contact["disabled"] is False
    assert contact["email"] == email  # the registration's address kept

    in_old, in_new = await moved_to(stack, old), await moved_to(stack, new)
    await mailbox.wait_for(to(email, in_new))
    await mailbox.settle()
    subjects = [str(m["Subject"]) for m in mailbox.to(email)]
    assert subjects == [f"Assigned to you: {before}", f"Assigned to you: {in_new}"]  # never {in_old}
    assert in_old not in str(subjects)


async def test_a_disabled_account_hears_nothing_and_an_older_registration_replayed_does_not_enable_it(
    stack: Stack, notify: Notify, mailbox: Mailbox
) -> None:
    department = f"lights-{uuid4().hex[:6]}"
    crew, email = new_user_id(), f"off-{uuid4().hex[:8]}@example.org"
    other, other_email = new_user_id(), f"on-{uuid4().hex[:8]}@example.org"
    joined = registered(crew, email=email, role="staff", departments=[department])
    await publish(
        stack.kafka,
        Topic.USERS_EVENTS,
        [
            joined,
            registered(other, email=other_email, role="staff", departments=[department]),
            updated(crew, departments=(department,), disabled=True),
            joined,  # the registration redelivered after the change: still disabled
        ],
    )
    contact = await applied(stack, notify, crew)
    assert contact["disabled"] is True
    assert contact["departments"] == [department]
    await applied(stack, notify, other)

    title = await moved_to(stack, department)
    await mailbox.wait_for(to(other_email, title))  # the enabled colleague is told
    # Their own report's receipt (e-mail and in-app) is recorded, then withheld by the sender.
    own = reported(crew, department=department)
    await publish(stack.kafka, Topic.ISSUES_EVENTS, [own])
    deadline = time.monotonic() + 30
    outcomes: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(outcomes) < 2:
        outcomes = await stored(stack, notify, "delivery_outcomes", {"recipient_id": crew})
        await asyncio.sleep(0.2)
    assert sorted((o["channel"], o["moment"], o["status"], o["error"]) for o in outcomes) == [
        ("email", "report_received", "skipped", "account disabled"),
        ("in_app", "report_received", "skipped", "account disabled"),
    ]
    await mailbox.settle()
    assert mailbox.to(email) == []
    feed = await notify.http.get("/v1/me/notifications", headers=notify.as_user(crew))
    assert feed.status_code == 200
    assert feed.json()["items"] == []
