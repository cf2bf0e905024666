"""Notify applies an administrator's change of an account (``UserUpdated``): the events' order, the
state each hands the contacts, and a disabled account's deliveries withheld by the sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
from uuid_utils.compat import uuid7

from snapfix_notify.consumers import UserEventsHandler
from snapfix_notify.dispatch import Dispatcher, new_delivery
from snapfix_notify.models import Contact
from snapfix_notify.repository import state_stamp
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.messages import UserRegistered, UserUpdated
from snapfix_shared.messages.base import utcnow
from tests.builders import DeadLetters, consumed

TOPIC = "users.events.v1"

USER = UUID(str(uuid7()))


def test_the_stamp_sorts_as_the_events_happened_whatever_their_offset_and_breaks_ties_by_message_id() -> None:
    at = datetime(2026, 12, 2, 19, 0, 0, tzinfo=UTC)
    first, second = UUID(str(uuid7())), UUID(str(uuid7()))
    assert state_stamp(at, first) < state_stamp(at + timedelta(microseconds=1), first)
    assert state_stamp(at + timedelta(seconds=9), first) < state_stamp(at + timedelta(seconds=10), first)
    assert state_stamp(at, first) < state_stamp(at, second)  # UUIDv7: later id, later message
    # The same instant written at another offset is the same stamp (never a wrong order by timezone).
    later_in_india = (at + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert state_stamp(at + timedelta(hours=1), first) == state_stamp(later_in_india, first)
    assert state_stamp(at, first) < state_stamp(later_in_india, first)


class Contacts:
    def __init__(self, applied: bool = True) -> None:
        self.calls: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = []
        self.applied = applied

    async def set_state(
        self, user_id: str, stamp: str, state: dict[str, Any], always: dict[str, Any] | None = None
    ) -> bool:
        self.calls.append((user_id, stamp, state, always))
        return self.applied

    async def deleted(self, _user_id: str) -> bool:
        return False  # no account here was deleted (test_user_deleted covers that)


def users_consumer(
    contacts: Contacts, known: list[str] | None = None, dead: DeadLetters | None = None
) -> UserEventsHandler:
    async def contact_known(user_id: str) -> None:
        if known is not None:
            known.append(user_id)

    dispatcher: Any = SimpleNamespace(contact_known=contact_known)
    runtime: Any = dead if dead is not None else DeadLetters()
    return UserEventsHandler(runtime, dispatcher, contacts, group="notify-users-unit")  # type: ignore[arg-type]


async def test_a_user_updated_hands_its_whole_state_with_its_stamp_and_a_registration_its_address_too() -> None:
    contacts = Contacts()
    registered = UserRegistered(
        correlation_id="unit", user_id=USER, email="kim@example.org", display_name="Kim", role="staff",
        departments=("roads",),
    )  # fmt: skip
    moved = UserUpdated(
        correlation_id="unit", user_id=USER, role="staff", departments=("parks",), changed=("departments",)
    )
    disabled = UserUpdated(
        correlation_id="unit", user_id=USER, role="staff", departments=("parks",), disabled=True, changed=("disabled",)
    )
    known: list[str] = []
    await users_consumer(contacts, known).handle(consumed(TOPIC, registered, moved, disabled))
    assert known == [str(USER)]  # the registration made its contact known: what waited for it is woken
    assert contacts.calls == [
        (
            str(USER),
            state_stamp(registered.occurred_at, registered.message_id),
            {"role": "staff", "departments": ["roads"], "disabled": False},
            {"email": "kim@example.org", "display_name": "Kim"},
        ),
        (
            str(USER),
            state_stamp(moved.occurred_at, moved.message_id),
            {"role": "staff", "departments": ["parks"], "disabled": False},
            None,
        ),
        (
            str(USER),
            state_stamp(disabled.occurred_at, disabled.message_id),
            {"role": "staff", "departments": ["parks"], "disabled": True},
            None,
        ),
    ]


async def test_a_permanent_failure_of_a_user_event_goes_to_the_dead_letter_topic_and_the_rest_go_on() -> None:
    dead = DeadLetters()

    class Broken(Contacts):
        async def set_state(self, user_id: str, stamp: str, state: dict[str, Any], always: Any = None) -> bool:
            if state["disabled"]:
                raise ValueError("cannot store this")
            return await super().set_state(user_id, stamp, state, always)

    contacts = Broken()
    handler = users_consumer(contacts, dead=dead)
    poison = UserUpdated(correlation_id="unit", user_id=USER, role="staff", disabled=True, changed=("disabled",))
    fine = UserUpdated(correlation_id="unit", user_id=USER, role="admin", changed=("role",))
    await handler.handle(consumed(TOPIC, poison, fine))
    assert [(offset, reason) for offset, _, reason, _ in dead.dead] == [(0, "failed")]  # the poison's record
    assert "cannot store this" in dead.dead[0][3]
    assert [c[2]["role"] for c in contacts.calls] == ["admin"]


# -- the sender ---------------------------------------------------------------------------


class Store:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, str | None]] = []
        self.done: list[str] = []
        self.delivered: list[str] = []

    async def finish(self, delivery: Any, status: str, _at: datetime, error: str | None = None) -> None:
        self.outcomes.append((delivery.id, status, error))

    async def queue_done(self, keys: list[str]) -> None:
        self.done += keys

    async def deliver(self, notice: Any) -> None:
        self.delivered.append(notice.key)


@pytest.mark.parametrize("moment", ["report_received", "password_reset"])
async def test_nothing_is_sent_to_a_disabled_account_its_delivery_is_recorded_skipped_and_leaves_the_queue(
    moment: str,
) -> None:
    store = Store()
    channel: Any = SimpleNamespace(deliver=store.deliver)
    dispatcher = Dispatcher(
        SimpleNamespace(),  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        {"email": channel},
        deliveries=SimpleNamespace(finish=store.finish),  # type: ignore[arg-type]
        queue=SimpleNamespace(done=store.queue_done),  # type: ignore[arg-type]
        contacts=SimpleNamespace(),  # type: ignore[arg-type]
        renderer=Renderer(),
        tokens=UnsubscribeTokens("s" * 32, base_url="https://snapfix.test"),
    )
    context = {"issue_id": str(uuid7()), "title": "Pothole", "category": "pothole", "issue_url": "https://x/1"}
    delivery = new_delivery(
        cause_id="e1", recipient_id=str(USER), channel="email", moment=moment, context=context, now=utcnow(),
        address="kim@example.org",
    )  # fmt: skip
    contact = Contact.model_construct(id=str(USER), email="kim@example.org", display_name="Kim", disabled=True)

    assert await dispatcher._attempt(delivery, utcnow(), contact) is False
    assert store.delivered == []
    assert store.outcomes == [(delivery.id, "skipped", "account disabled")]
    assert store.done == [delivery.id]

    if moment == "report_received":  # the same delivery to the account enabled again: sent
        enabled = contact.model_copy(update={"disabled": False})
        assert await dispatcher._attempt(delivery, utcnow(), enabled) is True
        assert store.delivered == [delivery.id]
