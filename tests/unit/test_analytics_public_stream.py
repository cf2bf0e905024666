"""analytics.issues-public.v1 carries no personal data: a property test over every event type.

Every free-text and id field of the input gets a random PII-like string (or a random id);
none of them, nor the issue id, may appear in the published key, value or headers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapfix_analytics.effects import PartitionClock, effects
from snapfix_shared.kafka import cloudevent_headers
from snapfix_shared.messages import (
    IssueAssigned,
    IssueCommented,
    IssueEdited,
    IssueEvent,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    IssueVoted,
    Location,
)

pytestmark = pytest.mark.unit
SECRET = b"s" * 32
# "PII-like": a marker no kept value contains, then letters, digits, spaces, @ and dots.
pii = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 @.+", min_size=6, max_size=40
).map(lambda s: "Pii" + s)
ids = st.uuids()
# Hypothesis takes naive bounds and gives each drawn time the zone of ``timezones``.
times = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def reports(draw: Any) -> IssueReported:
    at = draw(times)
    return IssueReported(
        message_id=draw(ids),
        correlation_id=draw(pii),
        causation_id=draw(pii),
        actor_id=draw(pii),
        issue_id=draw(ids),
        title=draw(pii),
        description=draw(pii),
        category="pothole",
        location=Location(lat=draw(st.floats(-89, 89)), lon=draw(st.floats(-179, 179))),
        reported_at=at,
        address=draw(pii),
        attributes={draw(pii)[:60]: draw(pii)},
        media_ids=tuple(draw(st.lists(ids, max_size=5))),
        anonymous=draw(st.booleans()),
        due_at=at + timedelta(hours=2),
    )


@st.composite
def later_events(draw: Any, issue_id: UUID) -> IssueEvent:
    envelope = {
        "message_id": draw(ids),
        "correlation_id": draw(pii),
        "causation_id": draw(pii),
        "actor_id": draw(pii),
        "issue_id": issue_id,
    }
    at = draw(times)
    kind = draw(st.sampled_from(["status", "comment", "vote", "follow", "assign", "edit"]))
    if kind == "status":
        return IssueStatusChanged(
            **envelope,
            from_status="open",
            to_status=draw(st.sampled_from(["acknowledged", "resolved", "rejected", "duplicate", "withdrawn"])),
            note=draw(pii),
            reason=draw(pii),
            duplicate_of=draw(ids),
            category="pothole",
            changed_at=at,
        )
    if kind == "comment":
        return IssueCommented(
            **envelope, comment_id=draw(ids), body=draw(pii), internal=draw(st.booleans()), commented_at=at
        )
    if kind == "vote":
        return IssueVoted(**envelope, vote=draw(st.booleans()), votes=draw(st.integers(0, 1000)))
    if kind == "follow":
        return IssueFollowed(**envelope, follow=draw(st.booleans()))
    if kind == "assign":
        return IssueAssigned(**envelope, department="roads", assignee_id=draw(pii), priority="high")
    return IssueEdited(
        **envelope, title=draw(pii), description=draw(pii), media_ids=tuple(draw(st.lists(ids, max_size=5)))
    )


def _secrets(event: IssueEvent) -> set[str]:
    """Every string the input carries that must not leave: free text, people and ids."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("Pii"):
            found.add(value)
        elif isinstance(value, UUID):
            found.update({str(value), value.hex})
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(dict(event))
    return found


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_field_of_the_public_stream_carries_personal_data_from_the_input(data: st.DataObject) -> None:
    report = data.draw(reports())
    events: list[IssueEvent] = [report, *data.draw(st.lists(later_events(report.issue_id), min_size=1, max_size=4))]
    state, clock = None, PartitionClock()
    for event in events:
        effect = effects(event, state, clock, timedelta(minutes=10), SECRET)
        state = effect.state
        if effect.public is None:
            assert isinstance(event, IssueCommented)
            assert event.internal  # only staff-internal comments are left out entirely
            continue
        public = effect.public
        published = " ".join(
            [
                public.model_dump_json(),
                public.partition_key(),
                *cloudevent_headers(public, "/snapfix/analytics").values(),
            ]
        )
        for secret in _secrets(event):
            assert secret not in published, f"{secret!r} of {event.type} leaked"
        assert public.geohash6 is None or len(public.geohash6) == 6
        assert public.actor_id is None
        assert public.causation_id is None
        assert "lat" not in public.model_dump()
