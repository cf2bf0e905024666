"""`make bench` phase "scale": the reads of a city's worth of reports, through the gateway, at two sizes.

Reports are seeded through the real consumer (commands produced to issues.commands.v1),
spread over Bengaluru with hot spots, a tenth of them commented, some followed and voted
on. At each size (``BENCH_SCALE_SIZES``, default 10,000 then 100,000) it measures, through
the gateway at a fixed arrival rate (vegeta, open loop): GET by id (read-model hit, and a
miss that falls back to the store), nearby at 1 km and 5 km, a map viewport, the staff
queue, a user's own reports; and one transition applied end to end (POST until a GET
shows it). It checks results against the ground truth kept by bench/scale_city.py: nearby
returns exactly the reports within the radius, a viewport exactly those inside it, and
cursor pages are complete with no duplicates. Reads are measured at steady state: after seeding, the phase
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from redis.asyncio import Redis

from bench.cpu import ALL_CORES, LOAD_CORE, SERVER_CORE, STACK_DIR, Meter, pid_on, pin, settle, stack_pids
from bench.load import BENCH_LIMITS, RESULTS, get_targets, process
from bench.scale_city import EAST, NORTH, SOUTH, WEST, City, ground_truth, place, seed, transitions_per_s

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "violet-harbour-71-lantern"
ADMIN = ("admin@bench.example", "amber-walrus-93-fjord")
RATE = int(os.environ.get("BENCH_SCALE_RATE", "40"))
MISS_RATE = int(os.environ.get("BENCH_SCALE_MISS_RATE", "2"))
DURATION_S = int(os.environ.get("BENCH_SCALE_DURATION_S", "8"))
# The store's processes, by their pid files' names (FerretDB, and PostgreSQL when it is the backend).
STORE_PROCESSES = ("ferretdb", "postmaster")


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


# -- the reads ---------------------------------------------------------------------------------


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
        reads["get_by_id_hit"] = measured("GET by id (read model)", get_targets(gateway, hits), pids)
        for radius in (1000, 5000):
            points = [place(rng) for _ in range(200)]
            paths = [f"/v1/issues?lat={la}&lon={lo}&radius_m={radius}" for la, lo in points]
            reads[f"nearby_{radius}m"] = measured(f"nearby {radius} m", get_targets(gateway, paths), pids)
        boxes = []
        for _ in range(200):
            la, lo = place(rng)
            boxes.append(f"/v1/map/issues?bbox={lo - 0.01},{la - 0.007},{lo + 0.01},{la + 0.007}&limit=200")
        reads["viewport"] = measured("map viewport", get_targets(gateway, boxes), pids)
        cells = [f"/v1/map/cells?bbox={WEST},{SOUTH},{EAST},{NORTH}&level=13"]
        reads["cells"] = measured("map cells (the city at level 13)", get_targets(gateway, cells), pids)
        reads["staff_queue"] = measured(
            "staff queue", get_targets(gateway, ["/v1/staff/queue"], tokens["staff"][0]), pids
        )
        reads["my_reports"] = measured(
            "my reports", get_targets(gateway, ["/v1/me/issues"], tokens["citizen"][0]), pids
        )
        reads["transition"] = asyncio.run(
            transition_end_to_end(city, gateway, tokens["staff"][0], 20, avoid=set(misses))
        )
        print(f"[scale] transition: {reads['transition']}", flush=True)
        reads["transitions_applied"] = asyncio.run(transitions_per_s(city, kafka, 500))
        print(f"[scale] transitions applied: {reads['transitions_applied']}", flush=True)
        # Last: a miss reads the store (every query of which scans), which stays busy a while after.
        reads["get_by_id_miss"] = measured(
            "GET by id (miss: the store)", get_targets(gateway, [f"/v1/issues/{i}" for i in misses]), pids, MISS_RATE
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
