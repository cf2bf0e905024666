"""The gateway checks a report against its copy of the catalogue, and asks the issues service only
about a category that copy does not know (FastStream's TestKafkaBroker, fake upstreams)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from aiokafka import ConsumerRecord
from fastapi import Response
from faststream.kafka import TestKafkaBroker
from multidict import CIMultiDict, CIMultiDictProxy

from snapfix_gateway.catalogue import CatalogueCopy
from snapfix_gateway.commands import Submitter
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.report_check import check_attributes
from snapfix_shared.http_client import Answer
from snapfix_shared.messages import ISSUE_COMMANDS, Location, ReportIssue
from snapfix_shared.messages.catalogue import AttributeSpec, AttributeValueOption, CategoryPublished, CategorySpec
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic

pytestmark = pytest.mark.unit

POTHOLE = CategorySpec(
    code="pothole",
    name="Pothole",
    department="roads",
    sla_hours=72,
    attributes=(
        AttributeSpec(code="depth_cm", datatype="number"),
        AttributeSpec(
            code="lane",
            datatype="singlevaluelist",
            required=True,
            values=(AttributeValueOption(key="bike_lane", name="Bike lane"),),
        ),
    ),
)
CITIZEN = Principal(user_id="citizen-1", role="citizen", departments=(), session_id="s-1")


def record(value: bytes | None, *, key: bytes = b"pothole", offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(Topic.ISSUES_CATALOGUE.value, 0, offset, 0, 0, key, value, None, 0, 0, [])


def published(spec: CategorySpec) -> bytes:
    return CategoryPublished(correlation_id="test", category=spec).model_dump_json().encode()


def loaded_copy(*specs: CategorySpec) -> CatalogueCopy:
    copy = CatalogueCopy(GatewaySettings(), client_id="test")
    for offset, spec in enumerate(specs):
        copy.apply(record(published(spec), key=spec.code.encode(), offset=offset))
    copy._loaded.set()  # the Kafka follower sets it once the topic is read to its end
    return copy


def answer(status: int, body: dict[str, Any] | None = None) -> Answer:
    return Answer(status, orjson.dumps(body) if body is not None else b"", CIMultiDictProxy(CIMultiDict()))


@dataclass
class FakeUpstream:
    """Answers by path; records every call."""

    answers: dict[str, Answer] = field(default_factory=dict)
    down: bool = False
    calls: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, **_: Any) -> Answer:
        self.calls.append(f"{method} {path}")
        if self.down:
            raise ServiceUnavailable("down")
        return self.answers.get(path, answer(404, {"title": "Not Found"}))


def report(**overrides: Any) -> ReportIssue:
    fields: dict[str, Any] = {
        "correlation_id": "req-1",
        "actor_id": CITIZEN.user_id,
        "issue_id": uuid4(),
        "title": "A deep pothole",
        "category": "pothole",
        "location": Location(lat=52.5, lon=13.4),
        "attributes": {"lane": "bike_lane"},
    }
    return ReportIssue(**(fields | overrides))


# -- the copy -----------------------------------------------------------------------------


def test_the_copy_keeps_the_last_record_of_each_code() -> None:
    changed = POTHOLE.model_copy(update={"name": "Pothole (road)"})
    copy = loaded_copy(POTHOLE, changed)
    found = copy.get("pothole")
    assert found is not None
    assert found.name == "Pothole (road)"


def test_a_record_that_does_not_validate_is_skipped_and_the_copy_goes_on() -> None:
    copy = loaded_copy(POTHOLE)
    copy.apply(record(b'{"type": "CategoryPublished", "category": {"code": "x"}}', key=b"x", offset=1))
    copy.apply(record(b"not json", key=b"y", offset=2))
    assert [s.code for s in copy.all()] == ["pothole"]


def test_a_tombstone_removes_its_code() -> None:
    copy = loaded_copy(POTHOLE)
    copy.apply(record(None, key=b"pothole", offset=1))
    assert copy.get("pothole") is None


async def test_the_copy_knows_nothing_and_is_not_ready_until_loaded() -> None:
    copy = CatalogueCopy(GatewaySettings(), client_id="test")
    copy.apply(record(published(POTHOLE)))
    assert copy.get("pothole") is None
    with pytest.raises(RuntimeError, match="not read to its end"):
        await copy.ready()
    copy._loaded.set()
    await copy.ready()
    assert copy.get("pothole") == POTHOLE


# -- attributes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "fields"),
    [
        ({"lane": "bike_lane", "colour": "red"}, ["attributes.colour"]),
        ({"lane": "sidewalk"}, ["attributes.lane"]),
        ({"lane": "bike_lane", "depth_cm": "deep"}, ["attributes.depth_cm"]),
        ({"depth_cm": True}, ["attributes.depth_cm", "attributes.lane"]),  # a bool is no number; lane is required
    ],
)
def test_attributes_that_do_not_fit_are_a_422_naming_each_field(attributes: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(Problem) as refused:
        check_attributes(report(attributes=attributes), POTHOLE)
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.extra["errors"]] == fields


def test_attributes_that_fit_pass() -> None:
    check_attributes(report(attributes={"lane": "bike_lane", "depth_cm": 12.5}), POTHOLE)


# -- the submitter ------------------------------------------------------------------------


@dataclass
class Harness:
    issues: FakeUpstream
    media: FakeUpstream
    commands: Any
    submitter: Any


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = GatewaySettings(kafka_bootstrap_servers="127.0.0.1:1")
    runtime = Runtime("gateway-unit", settings)

    @runtime.broker.subscriber(Topic.ISSUES_COMMANDS, group_id="spy-commands")
    async def commands(_: Any) -> None: ...

    issues, media = FakeUpstream(), FakeUpstream()

    def submitter(response: Response) -> Submitter:
        return Submitter(
            runtime,
            settings,
            issues,  # type: ignore[arg-type]
            "req-1",
            CITIZEN,
            response,
            catalogue=loaded_copy(POTHOLE),
            media_http=media,  # type: ignore[arg-type]
        )

    async with TestKafkaBroker(runtime.broker):
        yield Harness(issues, media, commands.mock, submitter)


def published_command(harness: Harness) -> ReportIssue:
    command = ISSUE_COMMANDS.validate_python(harness.commands.call_args.args[0])
    assert isinstance(command, ReportIssue)
    return command


async def test_a_report_without_photos_is_published_with_no_call_to_any_service(harness: Harness) -> None:
    response = Response()
    command = report()
    await harness.submitter(response)(command)

    assert harness.issues.calls == []
    assert harness.media.calls == []
    assert published_command(harness).issue_id == command.issue_id
    assert published_command(harness).accept_by is not None
    assert response.headers["location"] == f"/v1/issues/{command.issue_id}"
    assert "snapfix-check" not in response.headers


async def test_a_report_with_bad_attributes_is_refused_before_anything_is_published(harness: Harness) -> None:
    with pytest.raises(Problem) as refused:
        await harness.submitter(Response())(report(attributes={"lane": "sidewalk"}))
    assert refused.value.status == 422
    harness.commands.assert_not_called()
    assert harness.issues.calls == []


async def test_a_category_the_copy_does_not_know_is_checked_by_its_owner(harness: Harness) -> None:
    harness.issues.answers["/v1/commands/check"] = answer(
        422, {"title": "Unprocessable Content", "errors": [{"field": "category", "message": "unknown category x"}]}
    )
    with pytest.raises(Problem) as refused:
        await harness.submitter(Response())(report(category="x"))
    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["field"] == "category"
    assert harness.issues.calls == ["POST /v1/commands/check"]
    harness.commands.assert_not_called()

    harness.issues.answers["/v1/commands/check"] = answer(204)  # created a moment ago: the owner knows it
    await harness.submitter(Response())(report(category="x"))
    assert published_command(harness).category == "x"


async def test_an_unknown_category_is_accepted_unchecked_while_its_owner_is_down(harness: Harness) -> None:
    harness.issues.down = True
    response = Response()
    await harness.submitter(response)(report(category="x"))
    assert response.headers["snapfix-check"] == "deferred"
    assert published_command(harness).category == "x"


def media_state(media_id: UUID, status: str, reason: str | None = None) -> Answer:
    return answer(200, {"id": str(media_id), "status": status, "reason": reason})


async def test_photos_are_checked_with_media_in_one_round_and_never_with_issues(harness: Harness) -> None:
    mine, processing = uuid4(), uuid4()
    harness.media.answers[f"/v1/media/{mine}"] = media_state(mine, "processed")
    harness.media.answers[f"/v1/media/{processing}"] = media_state(processing, "pending")
    await harness.submitter(Response())(report(media_ids=(mine, processing)))

    assert sorted(harness.media.calls) == sorted([f"GET /v1/media/{mine}", f"GET /v1/media/{processing}"])
    assert harness.issues.calls == []
    assert published_command(harness).media_ids == (mine, processing)


async def test_someone_elses_unknown_or_rejected_photo_is_a_422_and_nothing_is_published(harness: Harness) -> None:
    theirs, rejected = uuid4(), uuid4()  # theirs: media answers 404, as for an unknown photo
    harness.media.answers[f"/v1/media/{rejected}"] = media_state(rejected, "rejected", "not an image")
    with pytest.raises(Problem) as refused:
        await harness.submitter(Response())(report(media_ids=(theirs, rejected)))
    assert refused.value.status == 422
    errors = refused.value.extra["errors"]
    assert [e["field"] for e in errors] == ["media_ids.0", "media_ids.1"]
    assert "upload it first" in errors[0]["message"]
    assert "not an image" in errors[1]["message"]
    harness.commands.assert_not_called()


async def test_photos_media_cannot_check_are_a_503_never_an_unchecked_photo(harness: Harness) -> None:
    harness.media.down = True
    with pytest.raises(Problem) as refused:
        await harness.submitter(Response())(report(media_ids=(uuid4(),)))
    assert refused.value.status == 503
    harness.commands.assert_not_called()


async def test_while_issues_is_down_a_report_of_an_unknown_category_still_has_its_photos_checked(
    harness: Harness,
) -> None:
    harness.issues.down = True
    with pytest.raises(Problem) as refused:
        await harness.submitter(Response())(report(category="x", media_ids=(uuid4(),)))
    assert refused.value.status == 422
    assert harness.media.calls
    harness.commands.assert_not_called()
