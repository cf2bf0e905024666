"""The city `bench.scale` measures: where reports fall, the commands that build it, and its ground truth.

Reports are produced as ReportIssue commands to issues.commands.v1 (signed as the gateway
signs them), spread over Bengaluru with hot spots, a tenth of them commented, some followed
and voted on; ``City`` remembers each one's place and category, against which the nearby,
viewport and staff-queue answers are checked. Transitions produced the same way give the
rate at which the consumer applies them.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer

from snapfix_shared import geo
from snapfix_shared.messages import (
    ChangeIssueStatus,
    CommentOnIssue,
    FollowIssue,
    Location,
    Message,
    ReportIssue,
    VoteOnIssue,
)
from snapfix_shared.messages.base import Command, utcnow
from snapfix_shared.topics import Topic
from snapfix_shared.viewer import process_tokens
from tests.stack import wait_caught_up

SOUTH, WEST, NORTH, EAST = 12.85, 77.45, 13.10, 77.75  # Bengaluru
HOT_SPOTS = [(12.9716, 77.5946), (12.9352, 77.6245), (13.0358, 77.5970), (12.9698, 77.7500), (12.9166, 77.6101)]
# Categories without required attributes, by how often a city sees them, with their departments.
CATEGORIES = [
    ("pothole", 35),
    ("streetlight", 20),
    ("graffiti", 10),
    ("sidewalk", 10),
    ("tree", 10),
    ("water_leak", 15),
]
STAFF_ACTOR = {"actor_id": "bench-roads", "actor_role": "staff", "actor_departments": ("roads",)}


def place(rng: random.Random) -> tuple[float, float]:
    """Half the reports near hot spots (a market, a junction), half anywhere in the city."""
    if rng.random() < 0.5:
        lat, lon = rng.choice(HOT_SPOTS)
        return min(NORTH, max(SOUTH, rng.gauss(lat, 0.01))), min(EAST, max(WEST, rng.gauss(lon, 0.01)))
    return rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)


# -- seeding through the real consumer ----------------------------------------------------------


class City:
    """What was seeded, kept here as ground truth."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.reports: dict[str, tuple[float, float, str]] = {}  # id -> (lat, lon, category)
        self.moved: set[str] = set()  # acknowledged by the transition measure
        self.departments = {
            "pothole": "roads",
            "sidewalk": "roads",
            "streetlight": "lighting",
            "graffiti": "sanitation",
            "tree": "parks",
            "water_leak": "water",
        }

    def category(self) -> str:
        names, weights = zip(*CATEGORIES, strict=True)
        return self.rng.choices(names, weights)[0]


async def seed(city: City, kafka: str, count: int, *, citizen_id: str, own: int) -> None:
    """Produce ``count`` reports (``own`` of them by the bench's citizen), a tenth commented, some
    followed and voted on; return once the issues service has applied them all."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=20)
    await producer.start()

    async def send(message: Message) -> asyncio.Future[Any]:
        if isinstance(message, Command):  # as the gateway publishes it: with its actor's proof
            message = process_tokens().sign_command(message)
        return await producer.send(
            Topic.ISSUES_COMMANDS, message.model_dump_json().encode(), key=message.partition_key().encode()
        )

    try:
        sent = []
        for i in range(count):
            now = utcnow()
            lat, lon = place(city.rng)
            category = city.category()
            reporter = citizen_id if i < own else f"citizen-{city.rng.randrange(count // 8 + 1)}"
            command = ReportIssue(
                occurred_at=now,
                accept_by=now + timedelta(hours=1),
                correlation_id=f"bench-{uuid4()}",
                issue_id=uuid4(),
                title=f"{category.replace('_', ' ').title()} {i}",
                description="Seeded by bench/scale.py",
                category=category,
                location=Location(lat=lat, lon=lon),
                actor_id=reporter,
                actor_role="citizen",
            )
            city.reports[str(command.issue_id)] = (lat, lon, category)
            sent.append(await send(command))
            extra = [
                build(**_envelope(now), issue_id=command.issue_id, **_citizen(city.rng))
                for share, build in PARTICIPATION
                if city.rng.random() < share
            ]
            sent.extend([await send(m) for m in extra])
            if len(sent) >= 5000:
                await asyncio.gather(*sent)
                sent = []
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    started = time.monotonic()
    await wait_caught_up(kafka, "issues", Topic.ISSUES_COMMANDS, timeout_s=3600)
    print(
        f"[scale] {len(city.reports)} reports stored ({time.monotonic() - started:.0f} s after the last send)",
        flush=True,
    )


# Of every report: a tenth commented on, one in two hundred followed, one in two hundred voted for.
PARTICIPATION: list[tuple[float, Any]] = [
    (0.1, lambda **f: CommentOnIssue(**f, comment_id=uuid4(), body="Still there")),
    (0.005, lambda **f: FollowIssue(**f, follow=True)),
    (0.005, lambda **f: VoteOnIssue(**f, vote=True)),
]


def _citizen(rng: random.Random) -> dict[str, str]:
    return {"actor_id": f"citizen-{rng.randrange(1000)}", "actor_role": "citizen"}


def _envelope(now: datetime) -> dict[str, Any]:
    return {"occurred_at": now, "accept_by": now + timedelta(hours=1), "correlation_id": f"bench-{uuid4()}"}


# -- ground truth -----------------------------------------------------------------------------


def pages(
    client: httpx.Client, path: str, params: dict[str, Any], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = dict(params)
    for _ in range(100_000):
        answer = client.get(path, params=params, headers=headers)
        answer.raise_for_status()
        page = answer.json()
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]
    raise RuntimeError(f"{path}: the cursor never ended")


def ground_truth(city: City, gateway: str, tokens: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Nearby, viewport and queue answers compared with what was seeded; every check's outcome."""
    checks: dict[str, Any] = {}
    rng = random.Random(7)
    with httpx.Client(base_url=gateway, timeout=60) as client:
        for radius in (1000, 5000):
            lat, lon = place(rng)
            got = pages(client, "/v1/issues", {"lat": lat, "lon": lon, "radius_m": radius, "limit": 100})
            truth = sorted(
                (d, i) for i, (la, lo, _) in city.reports.items() if (d := geo.distance_m(lat, lon, la, lo)) <= radius
            )
            checks[f"nearby_{radius}m"] = {
                "expected": len(truth),
                "returned": len(got),
                "duplicates": len(got) - len({g["id"] for g in got}),
                "exact": [g["id"] for g in got] == [i for _, i in truth],
            }
        lat, lon = place(rng)
        west, south, east, north = lon - 0.01, lat - 0.007, lon + 0.01, lat + 0.007
        got = pages(client, "/v1/map/issues", {"bbox": f"{west},{south},{east},{north}", "limit": 500})
        truth_ids = {i for i, (la, lo, _) in city.reports.items() if south <= la <= north and west <= lo <= east}
        checks["viewport"] = {
            "expected": len(truth_ids),
            "returned": len(got),
            "duplicates": len(got) - len({g["id"] for g in got}),
            "exact": {g["id"] for g in got} == truth_ids and len(got) == len(truth_ids),
        }
        staff = {"authorization": f"Bearer {tokens['staff'][0]}"}
        queue = pages(client, "/v1/staff/queue", {"limit": 100}, staff)
        roads = {i for i, (_, _, c) in city.reports.items() if city.departments[c] == "roads"}
        ids = [q["id"] for q in queue]
        checks["staff_queue"] = {
            "expected": len(roads),
            "returned": len(ids),
            "duplicates": len(ids) - len(set(ids)),
            "exact": set(ids) == roads and len(ids) == len(roads),
        }
    return checks


# -- transitions through the real consumer -------------------------------------------------------


async def transitions_per_s(city: City, kafka: str, n: int) -> dict[str, Any]:
    """``n`` transitions produced at once to the consumer: how many it applies per second at this size."""
    roads = [i for i, (_, _, c) in city.reports.items() if city.departments[c] == "roads" and i not in city.moved]
    chosen = random.Random(len(city.reports) + 1).sample(roads, n)
    city.moved.update(chosen)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        now = utcnow()
        started = time.monotonic()
        sent = []
        for issue_id in chosen:
            command = process_tokens().sign_command(
                ChangeIssueStatus(**_envelope(now), issue_id=UUID(issue_id), to="acknowledged", **STAFF_ACTOR)
            )
            sent.append(
                await producer.send(
                    Topic.ISSUES_COMMANDS, command.model_dump_json().encode(), key=command.partition_key().encode()
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    await wait_caught_up(kafka, "issues", Topic.ISSUES_COMMANDS, timeout_s=1800)
    elapsed = time.monotonic() - started
    return {"transitions": n, "seconds": round(elapsed, 2), "per_s": round(n / elapsed, 1)}
