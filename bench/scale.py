"""`make bench` phase "scale": the reads of a city's worth of reports, through the gateway, at two sizes.

Reports are seeded through the real consumer (commands produced to issues.commands.v1),
spread over Bengaluru with hot spots, a tenth of them commented, some followed and voted
on. At each size (``BENCH_SCALE_SIZES``, default 10,000 then 100,000) it measures, through
the gateway at a fixed arrival rate (vegeta, open loop): GET by id (read-model hit, and a
miss that falls back to the store), nearby at 1 km and 5 km, a map viewport, the staff
queue, a user's own reports; and one transition applied end to end (POST until a GET
shows it). It checks results against ground truth kept here: nearby returns exactly the
reports within the radius, a viewport exactly those inside it, and cursor pages are
complete with no duplicates. Reads are measured at steady state: after seeding, the phase
waits until the store's processes are idle (PostgreSQL's autovacuum of the rows just loaded,
which otherwise lands on whichever read runs beside it) and reports how long that took.

The load generator runs on core 1 and every server (Kafka, the Mongo-wire server, Redis,
the gateway, the issues service) on core 0 (``taskset``) while measuring; CPU-ms per
request of every server process is reported too (from /proc), so work is never hidden.
Results: bench/results/scale.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bench.cpu import ALL_CORES, LOAD_CORE, SERVER_CORE, STACK_DIR, Meter, pid_on, pin, settle, stack_pids
from bench.load import BENCH_LIMITS, RESULTS, process
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

ROOT = Path(__file__).resolve().parents[1]
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
PASSWORD = "violet-harbour-71-lantern"
ADMIN = ("admin@bench.example", "amber-walrus-93-fjord")
RATE = int(os.environ.get("BENCH_SCALE_RATE", "40"))
STAFF_ACTOR = {"actor_id": "bench-roads", "actor_role": "staff", "actor_departments": ("roads",)}
MISS_RATE = int(os.environ.get("BENCH_SCALE_MISS_RATE", "2"))
DURATION_S = int(os.environ.get("BENCH_SCALE_DURATION_S", "8"))
# The store's processes, by their pid files' names (FerretDB, and PostgreSQL when it is the backend).
STORE_PROCESSES = ("ferretdb", "postmaster")


def place(rng: random.Random) -> tuple[float, float]:
    """Half the reports near hot spots (a market, a junction), half anywhere in the city."""
    if rng.random() < 0.5:
        lat, lon = rng.choice(HOT_SPOTS)
        return min(NORTH, max(SOUTH, rng.gauss(lat, 0.01))), min(EAST, max(WEST, rng.gauss(lon, 0.01)))
    return rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)


# -- processes and CPU ------------------------------------------------------------------------


def attack(targets: str, *, rate: int, duration_s: int) -> dict[str, Any]:
    """vegeta on the load core, at a fixed arrival rate."""
    run = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "vegeta", "attack", f"-rate={rate}", f"-duration={duration_s}s", "-timeout=10s"],
        input=targets.encode(),
        capture_output=True,
        check=True,
    )
    report = subprocess.run(["vegeta", "report", "-type=json"], input=run.stdout, capture_output=True, check=True)
    data = json.loads(report.stdout)
    summary = {
        "requests": data["requests"],
        "rate": rate,
        "p50_ms": round(data["latencies"]["50th"] / 1e6, 2),
        "p99_ms": round(data["latencies"]["99th"] / 1e6, 2),
        "success": data["success"],
        "status_codes": data["status_codes"],
    }
    return summary


def measured(name: str, targets: str, pids: dict[str, int], rate: int = RATE) -> dict[str, Any]:
    meter = Meter(pids)
    summary = attack(targets, rate=rate, duration_s=DURATION_S)
    summary["cpu_ms_per_request"] = meter.per_request(summary["requests"])
    summary["cpu_ms_per_request_all"] = round(sum(summary["cpu_ms_per_request"].values()), 3)
    print(f"[scale] {name}: offered {rate}/s for {DURATION_S}s -> {summary}", flush=True)
    return summary


def targets(gateway: str, paths: list[str], token: str | None = None) -> str:
    auth = f"Authorization: Bearer {token}\n" if token else ""
    return "".join(f"GET {gateway}{path}\n{auth}\n" for path in paths)


# -- accounts ---------------------------------------------------------------------------------


def sign_in(gateway: str, email: str, password: str = PASSWORD) -> tuple[str, str]:
    with httpx.Client(base_url=gateway, timeout=30) as client:
        token = client.post("/v1/auth/token", data={"grant_type": "password", "username": email, "password": password})
        token.raise_for_status()
        access = str(token.json()["access_token"])
        me = client.get("/v1/me", headers={"authorization": f"Bearer {access}"})
        me.raise_for_status()
        return access, str(me.json()["id"])


def accounts(gateway: str) -> dict[str, tuple[str, str]]:
    """A citizen and a staff member of the roads department: (token, user id) each."""
    citizen = f"bench-{uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=gateway, timeout=30) as client:
        client.post(
            "/v1/auth/register", json={"email": citizen, "password": PASSWORD, "display_name": "C"}
        ).raise_for_status()
    admin_token, _ = sign_in(gateway, *ADMIN)
    staff = f"roads-{uuid4().hex[:8]}@city.example"
    with httpx.Client(base_url=gateway, timeout=30, headers={"authorization": f"Bearer {admin_token}"}) as client:
        body = {"email": staff, "password": PASSWORD, "display_name": "Crew", "departments": ["roads"]}
        client.post("/v1/admin/users", json=body).raise_for_status()
    return {"citizen": sign_in(gateway, citizen), "staff": sign_in(gateway, staff)}


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


# -- the reads ---------------------------------------------------------------------------------


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


async def transition_end_to_end(
    city: City, gateway: str, staff_token: str, n: int, *, avoid: set[str]
) -> dict[str, Any]:
    """POST a transition, then GET until it shows: the whole write path at this size."""
    roads = [
        i for i, (_, _, c) in city.reports.items() if city.departments[c] == "roads" and i not in avoid | city.moved
    ]
    chosen = random.Random(len(city.reports)).sample(roads, n)
    times = []
    headers = {"authorization": f"Bearer {staff_token}"}
    async with httpx.AsyncClient(base_url=gateway, timeout=30, headers=headers) as client:
        for issue_id in chosen:
            started = time.perf_counter()
            answer = await client.post(
                f"/v1/issues/{issue_id}/transitions",
                json={"to": "acknowledged"},
                headers={"idempotency-key": uuid4().hex},
            )
            answer.raise_for_status()
            city.moved.add(issue_id)
            while not _shows(await client.get(f"/v1/issues/{issue_id}"), "acknowledged"):
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"transition of {issue_id} not readable after 60 s")
                await asyncio.sleep(0.005)
            times.append((time.perf_counter() - started) * 1000)
    return {
        "transitions": n,
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "per_s_one_at_a_time": round(1000 / statistics.mean(times), 2),
    }


def _shows(answer: httpx.Response, status: str) -> bool:
    return answer.status_code == 200 and answer.json()["status"] == status


async def drop_entries(redis_url: str, ids: list[str]) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.delete(*[f"issues:{{{i}}}:issue" for i in ids])
    finally:
        await redis.aclose()


def measure(
    city: City, gateway: str, tokens: dict[str, tuple[str, str]], pids: dict[str, int], redis_url: str, kafka: str
) -> dict[str, Any]:
    rng = random.Random(len(city.reports))
    ids = list(city.reports)
    reads: dict[str, Any] = {}
    hits = [f"/v1/issues/{i}" for i in rng.sample(ids, min(len(ids), 500))]
    # A miss reads the store, whose every query scans: offered slowly, each id once.
    misses = rng.sample([i for i in ids if f"/v1/issues/{i}" not in set(hits)], MISS_RATE * DURATION_S)
    asyncio.run(drop_entries(redis_url, misses))
    pin(pids, SERVER_CORE)
    try:
        reads["get_by_id_hit"] = measured("GET by id (read model)", targets(gateway, hits), pids)
        for radius in (1000, 5000):
            points = [place(rng) for _ in range(200)]
            paths = [f"/v1/issues?lat={la}&lon={lo}&radius_m={radius}" for la, lo in points]
            reads[f"nearby_{radius}m"] = measured(f"nearby {radius} m", targets(gateway, paths), pids)
        boxes = []
        for _ in range(200):
            la, lo = place(rng)
            boxes.append(f"/v1/map/issues?bbox={lo - 0.01},{la - 0.007},{lo + 0.01},{la + 0.007}&limit=200")
        reads["viewport"] = measured("map viewport", targets(gateway, boxes), pids)
        cells = [f"/v1/map/cells?bbox={WEST},{SOUTH},{EAST},{NORTH}&level=13"]
        reads["cells"] = measured("map cells (the city at level 13)", targets(gateway, cells), pids)
        reads["staff_queue"] = measured("staff queue", targets(gateway, ["/v1/staff/queue"], tokens["staff"][0]), pids)
        reads["my_reports"] = measured("my reports", targets(gateway, ["/v1/me/issues"], tokens["citizen"][0]), pids)
        reads["transition"] = asyncio.run(
            transition_end_to_end(city, gateway, tokens["staff"][0], 20, avoid=set(misses))
        )
        print(f"[scale] transition: {reads['transition']}", flush=True)
        reads["transitions_applied"] = asyncio.run(transitions_per_s(city, kafka, 500))
        print(f"[scale] transitions applied: {reads['transitions_applied']}", flush=True)
        # Last: a miss reads the store (every query of which scans), which stays busy a while after.
        reads["get_by_id_miss"] = measured(
            "GET by id (miss: the store)", targets(gateway, [f"/v1/issues/{i}" for i in misses]), pids, MISS_RATE
        )
    finally:
        pin(pids, ALL_CORES)
    return reads


def main() -> None:
    env = dict(os.environ)
    sizes = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "10000,100000").split(",")]
    kafka = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"]
    city = City(seed=13)
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores",
        "rate_per_s": RATE,
        "duration_s": DURATION_S,
        "store": (STACK_DIR / "store").read_text().strip() if (STACK_DIR / "store").exists() else "sqlite",
        "sizes": {},
    }
    apps_env = {
        **env,
        **BENCH_LIMITS,
        "SNAPFIX_BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
        "SNAPFIX_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
        "SNAPFIX_LOG_LEVEL": "WARNING",
    }
    with ExitStack() as stack:
        issues = stack.enter_context(process("scale-issues", [sys.executable, "-m", "snapfix_issues"], apps_env))
        gateway = stack.enter_context(
            process(
                "scale-gateway", [sys.executable, "-m", "snapfix_gateway"], {**apps_env, "SNAPFIX_ISSUES_URL": issues}
            )
        )
        tokens = accounts(gateway)
        apps = {"gateway": pid_on(gateway), "issues": pid_on(issues)}
        for size in sizes:
            started = time.monotonic()
            asyncio.run(
                seed(
                    city,
                    kafka,
                    size - len(city.reports),
                    citizen_id=tokens["citizen"][1],
                    own=50 if not city.reports else 0,
                )
            )
            seeded_s = time.monotonic() - started
            pids = stack_pids(apps)
            checks = ground_truth(city, gateway, tokens)
            # Reads at steady state: the store's background work after the bulk load done first.
            settled_s = settle({k: v for k, v in pids.items() if k in STORE_PROCESSES})
            print(f"[scale] the store was busy for {settled_s:.0f} s more after seeding", flush=True)
            reads = measure(city, gateway, tokens, pids, env["SNAPFIX_REDIS_URL"], kafka)
            results["sizes"][str(size)] = {
                "reports": len(city.reports),
                "seeded_in_s": round(seeded_s, 1),
                "store_settled_in_s": round(settled_s, 1),
                "ground_truth": checks,
                "reads": reads,
            }
            (RESULTS / "scale.json").write_text(json.dumps(results, indent=2))
    if len(sizes) >= 2:
        small, large = results["sizes"][str(sizes[0])]["reads"], results["sizes"][str(sizes[-1])]["reads"]
        results["p50_large_over_small"] = {
            k: round(large[k]["p50_ms"] / small[k]["p50_ms"], 2)
            for k in large
            if "p50_ms" in large[k] and small[k]["p50_ms"]
        }
        results["p99_le_50ms_at_largest"] = {k: v["p99_ms"] <= 50 for k, v in large.items() if "p99_ms" in v}
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in results if k.startswith("p")}, indent=2))


if __name__ == "__main__":
    main()
