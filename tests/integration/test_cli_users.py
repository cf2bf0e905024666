"""``snapfix users`` against the real stack: each change is in the store and on users.events.v1, as from
the API; disabling ends the user's sessions; a wrong argument changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from snapfix_gateway.identity.sessions import Sessions
from snapfix_issues.catalogue import seed_categories
from snapfix_shared.kafka import cloudevent_headers
from snapfix_shared.messages.catalogue import CategoryPublished
from snapfix_shared.topics import Topic
from tests.integration.cli_runner import lines, snapfix
from tests.stack import Stack, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PASSWORD = "granite-otter-52-compass"


@pytest.fixture(scope="module")
async def catalogue_with_roads(stack: Stack) -> None:
    """The catalogue names the department ``roads`` (as the issues service publishes its seed at start)."""

    def roads(record: Any) -> bool:
        return b'"department":"roads"' in (record.value or b"")

    if await read_topic(stack.kafka, Topic.ISSUES_CATALOGUE, roads, timeout_s=3):
        return
    spec = next(s for s in seed_categories() if s.department == "roads")
    message = CategoryPublished(correlation_id="catalogue-sync", category=spec)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in cloudevent_headers(message, "/snapfix/issues").items()]
        await producer.send_and_wait(
            Topic.ISSUES_CATALOGUE, message.model_dump_json().encode(), key=spec.code.encode(), headers=headers
        )
    finally:
        await producer.stop()


@pytest.fixture
async def accounts(stack: Stack) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
    yield client["snapfix_gateway"]["accounts"]
    await client.close()


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


async def user_events(stack: Stack, user_id: UUID, kind: str, count: int = 1) -> list[dict[str, Any]]:
    found = await read_topic(
        stack.kafka,
        Topic.USERS_EVENTS,
        lambda r: r.key == str(user_id).encode() and f'"type":"{kind}"'.encode() in (r.value or b""),
        count=count,
        timeout_s=10 if count == 1 else 3,
    )
    return [orjson.loads(r.value) for r in found]


@pytest.mark.usefixtures("catalogue_with_roads")
async def test_create_list_disable_enable_and_change_an_account(stack: Stack, accounts: Any, redis: Redis) -> None:
    email = f"crew-{uuid4().hex[:10]}@city.example"
    created = await snapfix(
        stack, "users", "create-staff", email, "Road crew", "-d", "roads", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert created.exit_code == 0, created.output
    assert "Published on users.events.v1." in created.output
    stored = await accounts.find_one({"email": email})
    assert (stored["role"], stored["departments"], stored["disabled"]) == ("staff", ["roads"], False)
    user_id = stored["_id"]
    registered = await user_events(stack, user_id, "UserRegistered")
    assert registered[0]["actor_id"].startswith("cli:")
    assert (registered[0]["role"], registered[0]["departments"]) == ("staff", ["roads"])

    taken = await snapfix(stack, "users", "create-staff", email, "Again", "-d", "roads", "--generate-password")
    assert taken.exit_code == 1
    assert "exists already" in taken.stderr

    listed = await snapfix(stack, "users", "list", "--role", "staff", "--department", "roads", "--email", email[:15])
    assert listed.exit_code == 0, listed.output
    assert [line for line in lines(listed) if email in line and "staff" in line]
    disabled_only = await snapfix(stack, "users", "list", "--disabled", "--email", email)
    assert not [line for line in lines(disabled_only) if email in line]

    # A live session of the user, as a sign-in at the gateway makes it.
    sessions = Sessions(redis, 3600)
    session_id, _ = await sessions.create(str(user_id), "staff", ("roads",))
    disabled = await snapfix(stack, "users", "disable", email)
    assert disabled.exit_code == 0, disabled.output
    assert "Changed: disabled." in disabled.output
    assert (await accounts.find_one({"_id": user_id}))["disabled"] is True
    assert await sessions.get(session_id) is None  # the session ended with the disabling
    updated = await user_events(stack, user_id, "UserUpdated")
    assert (updated[0]["changed"], updated[0]["disabled"]) == (["disabled"], True)

    again = await snapfix(stack, "users", "disable", str(user_id))  # by id this time; nothing to change
    assert again.exit_code == 0, again.output
    assert "Nothing to change" in again.output
    assert len(await user_events(stack, user_id, "UserUpdated", count=2)) == 1  # no second event

    enabled = await snapfix(stack, "users", "enable", email)
    assert enabled.exit_code == 0, enabled.output
    assert (await accounts.find_one({"_id": user_id}))["disabled"] is False

    promoted = await snapfix(stack, "users", "set-role", email, "admin")
    assert promoted.exit_code == 0, promoted.output
    assert (await accounts.find_one({"_id": user_id}))["role"] == "admin"
    events = await user_events(stack, user_id, "UserUpdated", count=3)
    assert [e["changed"] for e in events] == [["disabled"], ["disabled"], ["role"]]


@pytest.mark.usefixtures("catalogue_with_roads")
async def test_a_wrong_argument_changes_nothing(stack: Stack, accounts: Any) -> None:
    email = f"crew-{uuid4().hex[:10]}@city.example"
    unknown_department = await snapfix(
        stack, "users", "create-staff", email, "Crew", "-d", "no-such-dept", "--generate-password"
    )
    assert unknown_department.exit_code == 1
    assert "no category of the catalogue belongs to no-such-dept" in unknown_department.stderr
    assert await accounts.find_one({"email": email}) is None

    weak = await snapfix(
        stack, "users", "create-staff", email, "Crew", "-d", "roads", "--password-stdin", stdin="password1\n"
    )
    assert weak.exit_code == 1
    assert "too weak" in weak.stderr
    assert await accounts.find_one({"email": email}) is None

    created = await snapfix(stack, "users", "create-staff", email, "Crew", "-d", "roads", "--generate-password")
    assert created.exit_code == 0, created.output
    assert "Password (shown once" in created.output
    before = await accounts.find_one({"email": email})

    moved = await snapfix(stack, "users", "set-departments", email, "roads", "no-such-dept")
    assert moved.exit_code == 1
    assert "No category of the catalogue belongs to no-such-dept" in moved.stderr
    demoted = await snapfix(stack, "users", "set-departments", email)
    assert demoted.exit_code == 2  # at least one department is required by the parser
    nobody = await snapfix(stack, "users", "disable", f"nobody-{uuid4().hex[:8]}@city.example")
    assert nobody.exit_code == 1
    assert "no account" in nobody.stderr
    assert await accounts.find_one({"email": email}) == before
