"""The media contracts: one union per topic, keyed by media id, strict."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError

from snapfix_shared.messages import MEDIA_COMMANDS, MEDIA_EVENTS, MediaDeleted, MediaRejected, ProcessMedia

pytestmark = pytest.mark.unit


def test_process_media_round_trips_and_is_keyed_by_media_id() -> None:
    command = ProcessMedia(media_id=uuid4(), owner_id="u1", content_type="image/heic", size=10, correlation_id="r")
    assert MEDIA_COMMANDS.validate_json(command.model_dump_json()) == command
    assert command.partition_key() == str(command.media_id)


def test_events_are_discriminated_on_type_and_refuse_unknown_fields() -> None:
    event = MediaRejected(media_id=uuid4(), owner_id="u1", reason="The file is empty.", correlation_id="r")
    assert MEDIA_EVENTS.validate_json(event.model_dump_json()) == event
    with pytest.raises(ValidationError):
        MEDIA_EVENTS.validate_python({**event.model_dump(), "gps": "52.5,13.4"})


def test_only_image_types_are_accepted_as_declared() -> None:
    with pytest.raises(ValidationError):
        ProcessMedia(media_id=uuid4(), owner_id="u1", content_type="text/html", size=10, correlation_id="r")  # type: ignore[arg-type]


def test_media_deleted_joins_the_event_union_additively() -> None:
    event = MediaDeleted(media_id=uuid4(), owner_id="u1", reason="issue_withdrawn", correlation_id="r")
    assert MEDIA_EVENTS.validate_json(event.model_dump_json()) == event
    assert event.partition_key() == str(event.media_id)
    assert event.issue_id is None  # optional: older producers never had it
    with pytest.raises(ValidationError):
        MediaDeleted(media_id=uuid4(), owner_id="u1", reason="", correlation_id="r")
