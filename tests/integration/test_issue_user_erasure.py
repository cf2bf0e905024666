"""The issues service erases a deleted account (``UserDeleted`` on users.events.v1) in the real store and
read model: its reports stay public without their reporter (not even in their history), its comments
without their author, its votes and follows are gone and the counts taken again. A redelivery changes
nothing more. Its export (``GET /v1/users/{id}/export``) holds all of it before, and is its own alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from uuid_utils.compat import uuid7

from snapfix_issues.app import create_app
from snapfix_issues.config import IssuesSettings
from snapfix_issues.readmodel import following_key, reporter_key
from snapfix_shared.messages import ChangeIssueStatus, CommentOnIssue, FollowIssue, UserDeleted, VoteOnIssue
from snapfix_shared.messages.base import utcnow
from snapfix_shared.topics import Topic
from tests.builders import as_viewer, citizen, make_command, make_report_command
from tests.integration.issues_app import Issues, events_of, wait_for_issue
from tests.stack import Stack, produce, produce_command, start_groups_at_end, wait_caught_up

pytestmark = pytest.mark.integration


@asynccontextmanager
async def erasing_issues(stack: Stack) -> AsyncIterator[Issues]:
    tag = uuid4().hex[:8]
    settings = IssuesSettings(
        kafka_bootstrap_servers=stack.kafka,
        mongo_url=stack.mongo_url,
        redis_url=stack.redis_url,
        consumer_group=f"issues-it-{tag}",
        issues_users_group=f"issues-users-it-{tag}",  # from now on: not the stack's whole history of accounts
    )
    await start_groups_at_end(stack.kafka, {settings.issues_users_group: Topic.USERS_EVENTS})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://issues") as http:
            yield Issues(http, settings, app)


async def _delete(stack: Stack, issues: Issues, user: str) -> None:
    event = UserDeleted(correlation_id=f"it-{uuid4()}", actor_id=user, user_id=UUID(user), deleted_at=utcnow())
    await produce(stack.kafka, Topic.USERS_EVENTS, event.model_dump_json().encode(), key=user.encode())
    await wait_caught_up(stack.kafka, issues.settings.issues_users_group, Topic.USERS_EVENTS, timeout_s=60)


async def test_a_deleted_account_leaves_public_anonymous_reports_and_no_participation(stack: Stack) -> None:
    user, neighbour = str(uuid7()), str(uuid7())
    async with erasing_issues(stack) as issues:
        mine = make_report_command(**citizen(user))
        withdrawn = make_report_command(**citizen(user))
        theirs = make_report_command(**citizen(neighbour))
        for command in (mine, withdrawn, theirs):
            await produce_command(stack, command)
        for command in (mine, withdrawn, theirs):
            await wait_for_issue(issues.http, command.issue_id)
        steps = [
            make_command(
                CommentOnIssue, issue_id=mine.issue_id, comment_id=uuid4(), body="Still deep", **citizen(user)
            ),
            make_command(ChangeIssueStatus, issue_id=withdrawn.issue_id, to="withdrawn", **citizen(user)),
            make_command(VoteOnIssue, issue_id=theirs.issue_id, vote=True, **citizen(user)),
            make_command(FollowIssue, issue_id=theirs.issue_id, follow=True, **citizen(user)),
        ]
        for step in steps:
            await produce_command(stack, step)
        await events_of(stack, theirs.issue_id, "IssueFollowed")
        await events_of(stack, withdrawn.issue_id, "IssueStatusChanged")
        await events_of(stack, mine.issue_id, "IssueCommented")

        own = as_viewer(user, "citizen")
        exported = (await issues.http.get(f"/v1/users/{user}/export", headers=own)).json()
        assert {r["id"] for r in exported["reports"]} == {str(mine.issue_id), str(withdrawn.issue_id)}
        assert [c["body"] for c in exported["comments"]] == ["Still deep"]
        assert [(v["issue_id"], v["active"]) for v in exported["votes"]] == [(str(theirs.issue_id), True)]
        assert [f["issue_id"] for f in exported["follows"]] == [str(theirs.issue_id)]
        assert "events" not in exported["reports"][0]
        other = await issues.http.get(f"/v1/users/{user}/export", headers=as_viewer(neighbour, "citizen"))
        assert other.status_code == 403
        assert (await issues.http.get(f"/v1/users/{user}/export")).status_code == 401
        before = (await issues.http.get(f"/v1/issues/{theirs.issue_id}")).json()
        assert (before["votes"], before["followers"]) == (1, 1)

        await _delete(stack, issues, user)
        await _delete(stack, issues, user)  # redelivered, or replayed: nothing more happens

        for issue_id in (mine.issue_id, withdrawn.issue_id):
            public = await issues.http.get(f"/v1/issues/{issue_id}")
            assert public.status_code == 200
            assert user not in public.text, public.text  # neither reporter, nor author, nor actor of its history
        detail = (
            await issues.http.get(f"/v1/issues/{mine.issue_id}", headers=as_viewer("crew", "staff", "roads"))
        ).json()
        assert detail["reporter_id"] is None
        assert [(c["author_id"], c["body"]) for c in detail["comments"]] == [(None, "Still deep")]
        after = (await issues.http.get(f"/v1/issues/{theirs.issue_id}")).json()
        assert (after["votes"], after["followers"]) == (0, 0)
        assert (await issues.http.get(f"/v1/users/{user}/issues", headers=own)).json()["items"] == []
        assert (await issues.http.get(f"/v1/users/{user}/following", headers=own)).json()["items"] == []
        left = (await issues.http.get(f"/v1/users/{user}/export", headers=own)).json()
        assert left == {"reports": [], "rejected_reports": [], "comments": [], "votes": [], "follows": []}
        # The neighbour's report is theirs still.
        assert (await issues.http.get(f"/v1/users/{neighbour}/issues", headers=as_viewer(neighbour, "citizen"))).json()[
            "items"
        ]

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, uuidRepresentation="standard")
    redis = Redis.from_url(stack.redis_url, socket_timeout=5)
    try:
        db = mongo[issues.settings.mongo_database]
        for collection, field in [("reports", "reporter_id"), ("comments", "author_id"), ("votes", "user_id")]:
            assert await db[collection].count_documents({field: user}) == 0, collection
        assert await db["follows"].count_documents({"user_id": user}) == 0
        assert not await redis.exists(reporter_key(user), following_key(user))
        stored = await db["reports"].find_one({"_id": str(withdrawn.issue_id)})
        assert stored is not None
        assert stored["anonymous"] is True
        assert [h["actor_id"] for h in stored["history"]] == [None]
    finally:
        await mongo.close()
        await redis.aclose()
