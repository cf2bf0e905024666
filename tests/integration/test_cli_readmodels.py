"""``snapfix readmodels rebuild`` against the real stack: a wiped or corrupted issues read model is
rebuilt from the store so that reads are right again, nothing is done while a consumer runs, and
notify's projections are replayed from the topics without bringing a deleted account back.

The command runs as its own process (``python -m snapfix_cli``), as an operator runs it, on a
Mongo database and a Redis database of this test's own (the read model's keys are not
namespaced by database, and other tests' issues services use database 0).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from snapfix_issues.domain import IssueRecord
from snapfix_issues.models import Comment, Follow, Report
from snapfix_issues.readmodel import BUILT, SUMMARY, ReadModel, geo_keys, queue_key
from snapfix_issues.repository import ReportRepository
from snapfix_shared.kafka import create_broker, publish
from snapfix_shared.messages import (
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    Location,
    Message,
    UserDeleted,
    UserRegistered,
)
from snapfix_shared.messages.base import utcnow
from snapfix_shared.mongo import init_documents
from snapfix_shared.settings import KafkaSettings
from snapfix_shared.topics import Topic
from tests.integration.test_cli_export import snapfix
from tests.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
REDIS_DB = 13
Consumer: Any = AIOKafkaConsumer  # untyped: reached through Any
BENGALURU = (12.9716, 77.5946)


def report(status: str, category: str, lat: float, lon: float, department: str = "roads") -> IssueRecord:
    created = utcnow() - timedelta(days=1)
    return IssueRecord.model_validate(
        {
            "id": uuid4(),
            "title": f"A {category} report",
            "category": category,
            "lat": lat,
            "lon": lon,
            "status": status,
            "department": department,
            "created_at": created,
            "reporter_id": "reporter-1",
            "command_id": uuid4(),
            "correlation_id": "req",
            "reported_event_id": uuid4(),
            "reported_event_at": created,
        }
    )


@dataclass
class Env:
    cli_env: dict[str, str]
    redis: Redis
    reports: list[IssueRecord]


@pytest.fixture
async def env(stack: Stack) -> AsyncIterator[Env]:
    tag = uuid4().hex[:8]
    database = f"snapfix_issues_cli_rebuild_{tag}"
    redis_url = stack.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    await init_documents(client, database, [Report, Comment, Follow])
    reports = [
        report("open", "pothole", *BENGALURU),
        report("in_progress", "streetlight", BENGALURU[0] + 0.001, BENGALURU[1]),
        report("resolved", "pothole", 48.8566, 2.3522, department="lights"),
    ]
    assert await ReportRepository().insert_new(reports) == set()  # none stored before
    redis = Redis.from_url(redis_url, socket_timeout=5)
    await redis.flushdb()
    cli_env = {
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": redis_url,
        "SNAPFIX_MONGO_DATABASE": database,
        "SNAPFIX_CONSUMER_GROUP": f"issues-cli-{tag}",  # no instance runs in these
        "SNAPFIX_ISSUES_USERS_GROUP": f"issues-users-cli-{tag}",
    }
    yield Env(cli_env, redis, reports)
    await redis.flushdb()
    await redis.aclose()
    await client.drop_database(database)
    await client.close()


async def assert_reads_are_right(env: Env) -> None:
    """What the issues service reads from its model: every row as stored, found where it should be."""
    readmodel = ReadModel(env.redis)
    assert await readmodel.ready()
    ids = [str(r.id) for r in env.reports]
    rows = await readmodel.rows(ids)
    assert {i: rows[i]["status"] for i in ids} == {str(r.id): r.status for r in env.reports}
    assert await env.redis.hlen(SUMMARY) == len(env.reports)
    nearby, more = await readmodel.near(*BENGALURU, keys=geo_keys([], None), radius_m=2000, limit=10)
    assert {row["id"] for _, row in nearby} == {ids[0], ids[1]}
    assert not more
    open_potholes, _ = await readmodel.near(*BENGALURU, keys=geo_keys(["open"], "pothole"), radius_m=2000, limit=10)
    assert [row["id"] for _, row in open_potholes] == [ids[0]]
    assert await env.redis.zscore(queue_key("lights", "resolved"), ids[2]) is not None


async def test_a_wiped_read_model_is_rebuilt_and_reads_are_right_again(env: Env) -> None:
    assert not await ReadModel(env.redis).ready()  # wiped: nothing there

    code, out, err = await snapfix("readmodels", "rebuild", "issues", env=env.cli_env)

    assert code == 0, err
    assert "3 report(s)" in out
    await assert_reads_are_right(env)


async def test_a_corrupted_read_model_is_replaced_whole(env: Env) -> None:
    code, _, err = await snapfix("readmodels", "rebuild", "issues", env=env.cli_env)
    assert code == 0, err
    first = str(env.reports[0].id)
    wrong = {**orjson.loads(await env.redis.hget(SUMMARY, first) or b"{}"), "status": "closed"}
    await env.redis.hset(SUMMARY, mapping={first: orjson.dumps(wrong), "not-an-issue": b"{}"})
    await env.redis.zadd(queue_key("roads", "closed"), {first: 1})

    code, _, err = await snapfix("readmodels", "rebuild", "issues", env=env.cli_env)

    assert code == 0, err
    await assert_reads_are_right(env)
    assert await env.redis.zscore(queue_key("roads", "closed"), first) is None


async def test_nothing_is_done_while_the_issues_consumer_group_has_a_member(env: Env, stack: Stack) -> None:
    group = env.cli_env["SNAPFIX_CONSUMER_GROUP"]
    consumer: Any = Consumer(Topic.ISSUES_COMMANDS, bootstrap_servers=stack.kafka, group_id=group)
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while not consumer.assignment():  # joined: the group has a member
                await consumer.getmany(timeout_ms=200)
        await env.redis.set("marker", "kept")

        code, _, err = await snapfix("readmodels", "rebuild", "issues", env=env.cli_env)
    finally:
        await consumer.stop()

    assert code == 1
    assert "active member" in err
    assert "nothing was done" in err
    assert not await env.redis.exists(BUILT)
    assert await env.redis.hlen(SUMMARY) == 0
    assert await env.redis.get("marker") == b"kept"


async def test_notify_projections_are_replayed_from_the_topics_and_no_deleted_account_comes_back(
    stack: Stack,
) -> None:
    tag = uuid4().hex[:8]
    database = f"snapfix_notify_cli_rebuild_{tag}"
    redis_url = stack.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    kept, gone, by_gone, by_kept = uuid4(), uuid4(), uuid4(), uuid4()
    now = utcnow()
    users: list[Message] = [
        UserRegistered(
            user_id=kept, email=f"{kept}@example.org", display_name="Kept", role="citizen", correlation_id=tag
        ),
        UserRegistered(
            user_id=gone, email=f"{gone}@example.org", display_name="Gone", role="citizen", correlation_id=tag
        ),
        UserDeleted(user_id=gone, deleted_at=now, correlation_id=tag),
    ]
    where = Location(lat=BENGALURU[0], lon=BENGALURU[1])
    issues: list[Message] = [
        IssueReported(
            issue_id=by_gone,
            title="Gone's",
            category="pothole",
            location=where,
            reported_at=now,
            actor_id=str(gone),
            correlation_id=tag,
        ),
        IssueReported(
            issue_id=by_kept,
            title="Kept's",
            category="pothole",
            location=where,
            reported_at=now,
            actor_id=str(kept),
            correlation_id=tag,
        ),
        IssueStatusChanged(
            issue_id=by_kept,
            from_status="open",
            to_status="resolved",
            category="pothole",
            changed_at=now,
            correlation_id=tag,
        ),
        IssueFollowed(issue_id=by_kept, follow=True, actor_id=str(gone), correlation_id=tag),
        IssueFollowed(issue_id=by_kept, follow=True, actor_id=str(kept), correlation_id=tag),
    ]
    broker = create_broker(KafkaSettings(kafka_bootstrap_servers=stack.kafka), client_id=f"test-{tag}")
    await broker.start()
    try:
        for topic, messages in ((Topic.USERS_EVENTS, users), (Topic.ISSUES_EVENTS, issues)):
            for message in messages:
                await publish(broker, topic, message, source="/tests", timeout_s=15)
    finally:
        await broker.stop()
    cli_env = {
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": redis_url,
        "SNAPFIX_MONGO_DATABASE": database,
        "SNAPFIX_NOTIFY_USERS_GROUP": f"notify-users-cli-{tag}",
        "SNAPFIX_NOTIFY_ISSUES_GROUP": f"notify-issues-cli-{tag}",
    }
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_url, timeoutMS=10_000, uuidRepresentation="standard", tz_aware=True
    )
    try:
        code, out, err = await snapfix("readmodels", "rebuild", "notify", env=cli_env, timeout_s=150)

        assert code == 0, err
        assert "notify projections rebuilt" in out
        db = client[database]
        contact = await db["contacts"].find_one({"_id": str(kept)})
        assert contact is not None
        assert contact["email"] == f"{kept}@example.org"
        tombstone = await db["contacts"].find_one({"_id": str(gone)})
        assert tombstone is not None
        assert tombstone["deleted"] is True
        assert tombstone["email"] is None
        view_of_gone = await db["issues"].find_one({"_id": str(by_gone)})
        assert view_of_gone is not None
        assert view_of_gone["reporter_id"] is None
        view = await db["issues"].find_one({"_id": str(by_kept)})
        assert view is not None
        assert (view["status"], view["reporter_id"], view["followers"]) == ("resolved", str(kept), [str(kept)])
        assert f"{gone}@example.org" not in str([d async for d in db["contacts"].find({})])
    finally:
        await client.drop_database(database)
        await client.close()
        redis = Redis.from_url(redis_url, socket_timeout=5)
        await redis.flushdb()
        await redis.aclose()
