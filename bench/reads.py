"""`make bench`, reads phase: GET /v1/issues/{id} through the gateway against a bare FastAPI GET.

The bare GET answers a same-sized body. An anonymous GET through the gateway is answered from
its edge cache (the issues service marks an anonymous visitor's view public for a few seconds);
a signed-in GET reads through to the issues service (its read model, rendered bytes); then the
anonymous GET through the deployed edge (nginx, TLS 1.3) in front of the gateway. Then nearby
search at full throttle, and its latency at a fixed rate of half that peak.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from typing import Any

import httpx

from bench.cpu import LOAD_CORE, SERVER_CORE, pid_on, pinned, stack_pids
from bench.edge import nginx_edge
from bench.load import BODY, ROOT, get_targets, issues_and_gateway, process, sign_up, vegeta


async def seed_reports(gateway: str, token: str, count: int) -> list[str]:
    """``count`` reports scattered within 1 km of BODY's point, each readable before this returns."""
    headers = {"authorization": f"Bearer {token}"}
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=gateway, timeout=10, headers=headers) as client:
        for i in range(count):
            body = BODY | {
                "lat": BODY["lat"] + random.uniform(-0.008, 0.008),
                "lon": BODY["lon"] + random.uniform(-0.012, 0.012),
                "title": f"Pothole {i}",
            }
            accepted = await client.post("/v1/issues", json=body)
            accepted.raise_for_status()
            ids.append(accepted.json()["id"])
        deadline = time.monotonic() + 120
        for issue_id in ids:
            while (await client.get(f"/v1/issues/{issue_id}")).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"seeded report {issue_id} not readable after 120 s")
                await asyncio.sleep(0.05)
    return ids


async def bench_reads(env: dict[str, str], duration_s: int) -> dict[str, Any]:
    with (
        process("bare", [sys.executable, str(ROOT / "bench" / "bare_app.py")], env) as bare_url,
        issues_and_gateway(env) as (issues_url, gateway_url),
        nginx_edge(gateway_url) as (edge_url, edge_pids),
    ):
        apps = {"bare": pid_on(bare_url), "gateway": pid_on(gateway_url), "issues": pid_on(issues_url)}
        pids = stack_pids(apps | edge_pids)
        token = await asyncio.to_thread(sign_up, gateway_url)
        ids = await seed_reports(gateway_url, token, int(os.environ.get("BENCH_SEED_REPORTS", "300")))
        one = [f"/v1/issues/{i}" for i in ids]
        bare, gateway, edge = get_targets(bare_url, one), get_targets(gateway_url, one), get_targets(edge_url, one)
        signed_in = get_targets(gateway_url, one, token)
        near = [f"/v1/issues?lat={BODY['lat']}&lon={BODY['lon']}&radius_m=1000"]
        nearby = get_targets(gateway_url, near)
        with pinned(pids):
            vegeta(bare, rate=0, duration_s=2)  # warm-up (and every issue cached once)
            vegeta(gateway, rate=0, duration_s=2)
            vegeta(signed_in, rate=0, duration_s=2)
            vegeta(edge, rate=0, duration_s=2, insecure=True)
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "gateway": [], "signed_in": [], "edge": []}
            for _ in range(2):
                runs["bare"].append(vegeta(bare, rate=0, duration_s=duration_s, pids=pids))
                runs["gateway"].append(vegeta(gateway, rate=0, duration_s=duration_s, pids=pids))
                runs["signed_in"].append(vegeta(signed_in, rate=0, duration_s=duration_s, pids=pids))
                runs["edge"].append(vegeta(edge, rate=0, duration_s=duration_s, pids=pids, insecure=True))
            nearby_peak = vegeta(nearby, rate=0, duration_s=duration_s, workers=16, pids=pids)
            nearby_rate = max(1, int(nearby_peak["throughput_rps"] / 2))
            nearby_half = vegeta(nearby, rate=nearby_rate, duration_s=duration_s, pids=pids)
    rps = {name: statistics.median(r["throughput_rps"] for r in each) for name, each in runs.items()}
    return {
        "cores": f"servers (nginx included) on core {SERVER_CORE}, vegeta on core {LOAD_CORE}",
        "seeded_reports": len(ids),
        "bare_get": runs["bare"],
        "gateway_get": runs["gateway"],
        "gateway_get_over_bare": round(rps["gateway"] / rps["bare"], 3),
        "gateway_get_signed_in": runs["signed_in"],
        "gateway_get_signed_in_over_bare": round(rps["signed_in"] / rps["bare"], 3),
        "edge_get": runs["edge"],
        "edge_get_over_bare": round(rps["edge"] / rps["bare"], 3),
        "nearby_peak": nearby_peak,
        "nearby_at_half_peak": {"rate": nearby_rate, **nearby_half},
    }
