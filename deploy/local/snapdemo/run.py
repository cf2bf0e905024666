"""What a run is given (``Options``) and what it reports (``Summary``), and the small helpers of its chains."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .api import Account


@dataclass
class Options:
    url: str
    admin_email: str
    admin_password: str
    reports: int = 5000
    days: int = 90
    seed: int = 17
    photos: int = 250
    concurrency: int = 16
    wait_s: float = 300.0
    quiet: bool = False


@dataclass
class Summary:
    reports_planned: int = 0
    reports_created: int = 0
    reports_found: int = 0
    photos_uploaded: int = 0
    transitions: int = 0
    votes: int = 0
    comments: int = 0
    categories_created: int = 0
    accounts_created: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    # What the plan holds (whatever this run had to create): the state a finished demo shows.
    planned_statuses: Counter[str] = field(default_factory=Counter)
    planned_photos: int = 0
    planned_votes: int = 0
    planned_comments: int = 0
    overdue: int = 0
    requests: int = 0
    waited_429: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    failed: int = 0  # reports whose chain stopped on an error (shown as it happened)
    refused: int = 0  # commands their issue's state refused for longer than wait_s
    seconds: float = 0.0
    issue_ids: list[str] = field(default_factory=list)


# The demo's importers, citizens, and staff by department.
People = tuple[Sequence["Account"], Sequence["Account"], dict[str, list["Account"]]]


def _reached(expected: dict[int, tuple[str, int]]) -> Callable[[dict[int, dict[str, Any]]], bool]:
    """Whether every issue (by plan index) has the status and at least the votes expected of it."""

    def reached(stored: dict[int, dict[str, Any]]) -> bool:
        return all(
            i in stored and stored[i]["status"] == status and int(stored[i]["votes"]) >= votes
            for i, (status, votes) in expected.items()
        )

    return reached


def _second(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def _all(jobs: Iterable[Awaitable[None]]) -> None:
    """Run every job (the Api bounds how many requests are in flight); the first failure cancels the rest."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(_awaited(job))
    except ExceptionGroup as failed:  # the first failure, as a sequential loop would raise it
        raise failed.exceptions[0] from None


async def _awaited(job: Awaitable[None]) -> None:
    await job
