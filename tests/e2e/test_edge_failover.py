"""The nginx edge (deploy/nginx) in front of two real gateway replicas, over real TLS, when one dies:
one gateway is killed with SIGKILL in the middle of a load of reads and keyed POSTs, and the
test counts what clients saw (no failed read, no duplicated report).

The edge and its processes are tests/e2e/edge.py's.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.builders import make_report_body
from tests.e2e.edge import EdgeSystem, _register, running_edge
from tests.stack import Stack, wait_caught_up

pytestmark = pytest.mark.e2e

CLIENTS = 32  # concurrent clients during the kill
LOAD_BEFORE_KILL_S = 3.0
LOAD_AFTER_KILL_S = 5.0


@pytest.fixture(scope="module")
def edge_system(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeSystem]:
    with running_edge(stack, tmp_path_factory.mktemp("edge-apps")) as system:
        yield system


# --------------------------------------------------------------------------- a gateway dies


@dataclass
class Tally:
    gets: int = 0
    get_failures: list[str] = field(default_factory=list)  # an error status: nginx did not hide the death
    gets_cut: list[str] = field(default_factory=list)  # the answer broke off mid-stream
    posts: int = 0
    post_first_failures: list[str] = field(default_factory=list)
    post_final_failures: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # title -> issue id


async def _worker(system: EdgeSystem, token: str, n: int, run: str, stop: asyncio.Event, tally: Tally) -> None:
    async with system.client(http2=n % 2 == 0, token=token) as client:
        i = 0
        while not stop.is_set():
            i += 1
            if i % 5 == 0:
                await _post_report(client, run, tally)
                continue
            path = "/v1/categories" if i % 2 else "/v1/me"  # through the gateway to issues, or the gateway alone
            tally.gets += 1
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    tally.get_failures.append(f"GET {path} {response.status_code} {response.text[:120]}")
            except httpx.HTTPError as exc:
                tally.gets_cut.append(f"GET {path} {exc!r}")


async def _post_report(client: httpx.AsyncClient, run: str, tally: Tally) -> None:
    """A phone's report: one Idempotency-Key, retried like a phone would (same key, same body)."""
    key = str(uuid4())
    body = make_report_body(title=f"edge {run} {key}")
    tally.posts += 1
    for attempt in range(4):
        try:
            response = await client.post("/v1/issues", json=body, headers={"idempotency-key": key})
            outcome = f"{response.status_code} {response.text[:120]}"
            if response.status_code == 202:
                tally.accepted[body["title"]] = response.json()["id"]
                return
        except httpx.HTTPError as exc:
            outcome = repr(exc)
        if attempt == 0:
            tally.post_first_failures.append(f"POST {key}: {outcome}")
        await asyncio.sleep(0.5 * (attempt + 1))
    tally.post_final_failures.append(f"POST {key}: {outcome}")


async def test_killing_a_gateway_mid_load_fails_no_read_and_duplicates_no_report(edge_system: EdgeSystem) -> None:
    """Runs last in this module: it kills one of the two gateways."""
    tokens = await asyncio.gather(*(_register(edge_system) for _ in range(4)))
    run = uuid4().hex[:10]
    tally, stop = Tally(), asyncio.Event()
    log_mark = len(edge_system.access_log())
    workers = [
        asyncio.create_task(_worker(edge_system, tokens[n % len(tokens)], n, run, stop, tally)) for n in range(CLIENTS)
    ]
    await asyncio.sleep(LOAD_BEFORE_KILL_S)
    before_kill = tally.gets + tally.posts
    victim = edge_system.gateways["gw-a"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    await asyncio.sleep(LOAD_AFTER_KILL_S)
    stop.set()
    await asyncio.gather(*workers)

    entries = edge_system.access_log()[log_mark:]
    served_by = Counter(e["upstream"] for e in entries if e["upstream"])
    retried = [e for e in entries if "," in e["upstream"]]  # "a, b": tried on one replica, then the other
    summary = (
        f"edge under a gateway kill: {CLIENTS} clients, {tally.gets} GETs "
        f"({len(tally.get_failures)} failed with a status, {len(tally.gets_cut)} cut mid-answer), "
        f"{tally.posts} keyed POSTs ({len(tally.post_first_failures)} failed at first, "
        f"{len(tally.post_final_failures)} still failed after 3 retries, {len(tally.accepted)} accepted); "
        f"{before_kill} requests before the kill; nginx retried {len(retried)} on the other replica; "
        f"served by: {dict(served_by)}"
    )
    print(summary)

    gw_a, gw_b = edge_system.gateway_addrs["gw-a"], edge_system.gateway_addrs["gw-b"]
    assert served_by[gw_a] > 0, summary  # both replicas took load before the kill
    assert served_by[gw_b] > 0, summary
    assert tally.gets > 0, summary
    assert tally.posts > 0, summary
    # Reads fail over transparently: refused and unanswered ones are retried on the other
    # replica, so no client sees an error status. Only an answer the killed replica was
    # already sending can break off (nginx cannot replay half an answer): a handful at most.
    assert tally.get_failures == [], summary + "\n" + "\n".join(tally.get_failures[:20])
    assert len(tally.gets_cut) <= 3, summary + "\n" + "\n".join(tally.gets_cut)
    # Only a POST in flight at the killed replica may fail (each client has one request in
    # flight at a time), and a phone's retries with the same key get through or are refused,
    # never stored twice (checked below).
    assert len(tally.post_first_failures) <= CLIENTS, summary
    assert len(tally.post_final_failures) <= CLIENTS, summary

    # No duplicates, no loss: every title (one per key) stored once; every accepted one stored.
    await wait_caught_up(edge_system.stack.kafka, "issues", "issues.commands.v1", timeout_s=60)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(edge_system.stack.mongo_url)
    try:
        cursor = mongo["snapfix_issues"]["reports"].find({"title": {"$regex": f"^edge {run} "}}, {"title": 1})
        stored = Counter([doc["title"] async for doc in cursor])
    finally:
        await mongo.close()
    duplicates = {title: n for title, n in stored.items() if n > 1}
    assert duplicates == {}, summary
    assert set(tally.accepted) <= set(stored), summary
