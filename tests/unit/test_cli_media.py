"""``snapfix media``: its arguments, and what it takes a stored key or a photo's state to mean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from snapfix_cli import media
from snapfix_cli.app import app
from snapfix_cli.support import CliError
from snapfix_media.models import Media

pytestmark = pytest.mark.unit
runner = CliRunner()


def make_media(**overrides: Any) -> Media:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "id": uuid4(),
        "owner_id": "user-1",
        "declared_type": "image/jpeg",
        "declared_size": 1000,
        "created_at": now,
        "upload_expires_at": now + timedelta(minutes=15),
        **overrides,
    }
    made: Media = Media.model_construct(**fields)
    return made


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["media", "reprocess"], "either a media id or --rejected"),
        (["media", "reprocess", str(uuid4()), "--rejected"], "either a media id or --rejected"),
        (["media", "reprocess", "not-a-uuid"], "not a media id"),
        (["media", "reprocess", str(uuid4()), "--limit", "3"], "--limit goes with --rejected"),
        (["media", "reprocess", "--rejected", "--limit", "0"], "greater than or equal to 1"),
        (["media", "gc", "--grace", "-1"], "greater than or equal to 0"),
    ],
)
def test_wrong_arguments_are_refused_before_anything_is_touched(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("command", ["reprocess", "gc"])
def test_each_command_has_an_example(command: str) -> None:
    result = runner.invoke(app, ["media", command, "--help"])
    assert result.exit_code == 0
    assert f"Example: snapfix media {command}" in result.output


def test_a_stored_key_belongs_to_the_photo_it_names() -> None:
    media_id = uuid4()
    assert media.media_of(f"{media_id}/original") == media_id
    assert media.media_of(f"{media_id}/thumb.webp") == media_id
    assert media.media_of(f"{media_id}/something-else") is None
    assert media.media_of("not-a-uuid/original") is None
    assert media.media_of("stray") is None


@pytest.mark.parametrize("status", ["awaiting_upload", "expired", "deleted"])
async def test_a_photo_without_an_original_worth_processing_is_refused(status: str) -> None:
    clients: Any = object()  # never reached: the refusal comes first
    with pytest.raises(CliError, match=f"is {status}"):
        await media.reopen(clients, make_media(status=status))


def test_reprocessable_states_are_those_with_an_original() -> None:
    assert {"rejected", "failed", "processed", "pending"} == media.REPROCESSABLE
    assert media.REPROCESSABLE.isdisjoint(media.BYTES_GONE)
