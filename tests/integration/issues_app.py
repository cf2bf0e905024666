"""The issues service run in-process against the real stack, and helpers to wait for its effects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from snapfix_issues.app import create_app
from snapfix_issues.config import IssuesSettings
from snapfix_shared.topics import Topic
from tests.builders import as_viewer
from tests.stack import Stack, header, read_topic


@dataclass
class Issues:
    http: httpx.AsyncClient
    settings: IssuesSettings
    app: FastAPI


@asynccontextmanager
async def running_issues(stack: Stack) -> AsyncIterator[Issues]:
    settings = IssuesSettings(
        **stack.connections(),
        # A group of its own, so this in-process instance shares no partitions with others.
        consumer_group=f"issues-it-{uuid4().hex[:8]}",
        readmodel_check_s=1.0,  # a lost read model is rebuilt within a second
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://issues") as http:
            yield Issues(http, settings, app)


async def wait_for_issue(
    http: httpx.AsyncClient, issue_id: UUID, timeout_s: float = 30.0, **kwargs: Any
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        response = await http.get(f"/v1/issues/{issue_id}", **kwargs)
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.1)
    pytest.fail(f"issue {issue_id} was not stored within {timeout_s}s")


async def wait_for_listing(http: httpx.AsyncClient, issue_id: UUID, reporter: str, timeout_s: float = 30.0) -> None:
    """Wait until ``issue_id`` is in its reporter's list, so in every list of the read model.

    A stored report is readable (``wait_for_issue``) a moment before the read model takes it:
    the cache and the read model are written together after the store. The read model takes an
    issue's row and every set it belongs to in one script, so its reporter's list showing it means
    the nearby, map and queue lists do too.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        response = await http.get(
            f"/v1/users/{reporter}/issues", params={"limit": 100}, headers=as_viewer(reporter, "citizen")
        )
        assert response.status_code == 200, response.text
        if str(issue_id) in {i["id"] for i in response.json()["items"]}:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"issue {issue_id} was not listed within {timeout_s}s")


def for_issue(issue_id: UUID) -> Any:
    return lambda r: r.key == str(issue_id).encode()


async def events_of(
    stack: Stack, issue_id: UUID, event_type: str, *, count: int = 1, timeout_s: float = 30.0
) -> list[ConsumerRecord[Any, Any]]:
    """``count`` events of one type about one issue on issues.events.v1 (fails if fewer arrive)."""
    ce_type = f"dev.snapfix.{event_type}.v1"
    found = await read_topic(
        stack.kafka,
        Topic.ISSUES_EVENTS,
        lambda r: r.key == str(issue_id).encode() and header(r, "ce_type") == ce_type,
        count=count,
        timeout_s=timeout_s,
    )
    assert len(found) >= count, f"{len(found)} {event_type} events for {issue_id}, expected {count}"
    return found
