"""``GET /v1/issues/{id}/viewer`` against the real stack: the caller's vote and follow as the consumer
stored them, the same from the read model's followers set and from the store (while Redis is not read)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from uuid_utils.compat import uuid7

from snapfix_issues.api import get_readmodel
from snapfix_shared.messages import FollowIssue, VoteOnIssue
from tests.builders import as_viewer, citizen, make_command, make_report_command
from tests.integration.issues_app import Issues, events_of, running_issues, wait_for_issue
from tests.stack import Stack, produce_command

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def issues(stack: Stack) -> AsyncIterator[Issues]:
    async with running_issues(stack) as running:
        yield running


@contextmanager
def without_read_model(issues: Issues) -> Iterator[None]:
    """The routes see no read model (as while it is rebuilt): they answer from the store."""

    async def none() -> None:
        return None

    issues.app.dependency_overrides[get_readmodel] = none
    try:
        yield
    finally:
        issues.app.dependency_overrides.pop(get_readmodel, None)


async def test_the_viewer_state_is_read_from_the_read_model_and_from_the_store_alike(
    stack: Stack, issues: Issues
) -> None:
    reporter, alice, bob = citizen(), citizen(), citizen()
    report = make_report_command(**reporter, anonymous=True)
    await produce_command(stack, report)
    await wait_for_issue(issues.http, report.issue_id)
    for command in (
        make_command(VoteOnIssue, issue_id=report.issue_id, vote=True, **alice),
        make_command(FollowIssue, issue_id=report.issue_id, follow=True, **alice),
        make_command(FollowIssue, issue_id=report.issue_id, follow=True, **bob),
        make_command(FollowIssue, issue_id=report.issue_id, follow=False, **bob),
    ):
        await produce_command(stack, command)
    await events_of(stack, report.issue_id, "IssueVoted")
    await events_of(stack, report.issue_id, "IssueFollowed", count=3)  # stored before they are announced

    path = f"/v1/issues/{report.issue_id}/viewer"
    expected = {
        reporter["actor_id"]: {"voted": False, "following": False, "is_reporter": True},
        alice["actor_id"]: {"voted": True, "following": True, "is_reporter": False},
        bob["actor_id"]: {"voted": False, "following": False, "is_reporter": False},
    }
    for source in ("read model", "store"):
        for user, state in expected.items():
            if source == "store":
                with without_read_model(issues):
                    response = await issues.http.get(path, headers=as_viewer(user, "citizen"))
            else:
                response = await issues.http.get(path, headers=as_viewer(user, "citizen"))
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "private, no-store"
            assert response.json() == state, (source, user)


async def test_an_unknown_issue_is_404_and_an_anonymous_viewer_401(issues: Issues) -> None:
    path = f"/v1/issues/{uuid7()}/viewer"
    unknown = await issues.http.get(path, headers=as_viewer("someone", "citizen"))
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (await issues.http.get(path, headers=as_viewer())).status_code == 401
