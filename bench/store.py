"""FerretDB 1.24 on PostgreSQL against FerretDB on SQLite, at 10,000 and 100,000 reports, in one run.

Three FerretDB servers run side by side (bench/store_servers.py), started by the local stack's
own code (``deploy/local/stack.py``: the same binary, flags and PostgreSQL set-up as ``make run``):
on SQLite (the profile's Mongo port), on PostgreSQL as the stack runs it, with a GIN twin
of each index (port + 1), and on PostgreSQL with FerretDB's own indexes only (port + 2,
its own PostgreSQL server on the next port): the baseline for the twins. Their state is
under ``.stack/store-bench/``. Every measurement alternates between them, so that the load
of the machine weighs on all alike.

One collection of report-shaped documents (string ``_id``s, the issues service's fields,
a geohash-6 ``cell`` (1,024 of them: about 10 reports each at 10,000, 100 at 100,000) and
``status`` indexed) is filled to 10,000 documents with ``insert_many`` (batches of 500),
measured, filled on to 100,000, measured again. At each size: the ``insert_many`` rate of
the batches that got it there, and the median (and p90) time of ``find_one`` by ``_id``,
``update_one`` by ``_id``, a find on the indexed ``cell`` with a limit of 20, and a find of
50 ``_id``s with ``$in``. Next to each wall-clock figure, the CPU time the servers spent per
operation (FerretDB, and PostgreSQL's processes, from /proc), which the load of other work
on the machine does not inflate; and the peak memory of each server (RSS of FerretDB, PSS
of all PostgreSQL processes).

    python -m bench.store [--profile bench] [--sizes 10000 100000] [--runs 50] [--budget-s 20]

Results: bench/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection

from bench.store_servers import BACKENDS, Servers, sampling, stack, start_backend, stop_backend

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BATCH = 500
GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"
CATEGORIES = ("pothole", "streetlight", "graffiti", "garbage", "water-leak", "tree")


# --------------------------------------------------------------------------- documents and measures


def report(i: int, rng: random.Random) -> dict[str, Any]:
    """A document shaped like the issues service's reports (a string _id: the type FerretDB pushes down)."""
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    cell = "tdr1" + GEOHASH[i % 32] + GEOHASH[(i // 32) % 32]
    return {
        "_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "title": f"Report {i}",
        "description": "A deep pothole next to the bus stop, getting worse after the rain. " * 2,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "lat": 12.9 + rng.random() / 10,
        "lon": 77.5 + rng.random() / 10,
        "geohash": cell + "".join(rng.choice(GEOHASH) for _ in range(3)),
        "cell": cell,
        "address": f"{i % 200} Main Road",
        "attributes": {"size": "large"},
        "media_ids": [],
        "anonymous": False,
        "status": "open",
        "created_at": at,
        "reporter_id": f"user-{i % 5000}",
        "department": "roads",
        "priority": "normal",
        "votes": 0,
        "followers": 0,
        "history": [{"status": "open", "at": at}],
        "command_id": str(uuid.uuid4()),
        "correlation_id": uuid.uuid4().hex,
        "version": 0,
        "applied_commands": [],
    }


def timed(fn: Callable[[], object], runs: int, servers: Servers, budget_s: float) -> dict[str, float]:
    """Median and p90 wall time of up to ``runs`` calls (at least 3, fewer once ``budget_s`` is spent: a
    scan over 100,000 documents takes seconds), and the servers' CPU time per call."""
    times: list[float] = []
    before, start = servers.cpu_s(), time.perf_counter()
    while len(times) < runs and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    after = servers.cpu_s()
    cpu_ms = {name: round((after[name] - before[name]) * 1000 / len(times), 2) for name in after}
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[min(len(times) - 1, int(len(times) * 0.9))], 2),
        "runs": len(times),
        "server_cpu_ms_per_op": cpu_ms,
        "server_cpu_ms_per_op_total": round(sum(cpu_ms.values()), 2),
    }


def fill(col: Collection, docs: list[dict[str, Any]], servers: Servers) -> dict[str, float]:
    before, start = servers.cpu_s(), time.perf_counter()
    for i in range(0, len(docs), BATCH):
        col.insert_many(docs[i : i + BATCH], ordered=False)
    wall = time.perf_counter() - start
    after = servers.cpu_s()
    cpu_s = sum(after[n] - before[n] for n in after)
    return {
        "docs": len(docs),
        "docs_per_s": round(len(docs) / wall, 1),
        "server_cpu_ms_per_1000_docs": round(cpu_s * 1000 / len(docs) * 1000, 1),
        "server_cpu_percent": round(cpu_s / wall * 100, 1),
    }


# --------------------------------------------------------------------------- the run


def run(profile: str, sizes: list[int], runs: int, budget_s: float) -> dict[str, Any]:
    rng = random.Random(13)
    docs = [report(i, rng) for i in range(max(sizes))]
    ids = [d["_id"] for d in docs]
    load_before = os.getloadavg()
    layouts = {}
    try:
        for store in BACKENDS:
            layouts[store] = start_backend(profile, store)
        servers = {store: Servers(layout) for store, layout in layouts.items()}
        clients = {
            store: MongoClient(f"mongodb://127.0.0.1:{layout.mongo_port}/", timeoutMS=600_000)
            for store, layout in layouts.items()
        }
        cols = {store: client["store_bench"]["reports"] for store, client in clients.items()}
        for col in cols.values():
            col.create_index("cell")
            col.create_index("status")
        results: dict[str, dict[str, Any]] = {store: {"sizes": {}} for store in BACKENDS}
        with sampling(list(servers.values())):
            filled = 0
            for size in sorted(sizes):
                for store in BACKENDS:  # the same documents, one backend after the other
                    print(f"[store] {store}: insert_many up to {size:,}", flush=True)
                    results[store]["sizes"][str(size)] = {
                        "insert_many": fill(cols[store], docs[filled:size], servers[store])
                    }
                filled = size
                measures: dict[str, dict[str, Any]] = {store: {} for store in BACKENDS}
                for name in ("find_one_by_id", "update_one_by_id", "find_indexed_field_limit_20", "find_50_ids_in"):
                    for store in BACKENDS:  # alternating, so that all see the same load
                        print(f"[store] {store} at {size:,}: {name}", flush=True)
                        one = measure_one(name, cols[store], ids[:size], runs, servers[store], rng, budget_s)
                        measures[store][name] = one
                for store in BACKENDS:
                    results[store]["sizes"][str(size)] |= measures[store]
                    results[store]["sizes"][str(size)]["memory_mib_now"] = {
                        k: round(v, 1) for k, v in servers[store].memory_mib().items()
                    }
        for store in BACKENDS:
            results[store]["peak_memory_mib"] = {k: round(v, 1) for k, v in servers[store].peak_mib.items()}
            results[store]["server_cpu_s_total"] = {k: round(v, 1) for k, v in servers[store].cpu_s().items()}
            cols[store].drop()
            clients[store].close()
    finally:
        for layout in layouts.values():
            stop_backend(layout)
    return summarize(results, sizes, load_before)


def measure_one(
    name: str, col: Collection, ids: list[str], runs: int, servers: Servers, rng: random.Random, budget_s: float
) -> Any:
    if name == "find_one_by_id":
        return timed(lambda: col.find_one({"_id": rng.choice(ids)}), runs, servers, budget_s)
    if name == "update_one_by_id":
        change = {"$set": {"status": "acknowledged"}, "$inc": {"votes": 1}}
        return timed(lambda: col.update_one({"_id": rng.choice(ids)}, change), runs, servers, budget_s)
    if name == "find_indexed_field_limit_20":
        return timed(
            lambda: list(col.find({"cell": "tdr1" + rng.choice(GEOHASH) + rng.choice(GEOHASH)}).limit(20)),
            runs,
            servers,
            budget_s,
        )
    return timed(lambda: list(col.find({"_id": {"$in": rng.sample(ids, 50)}})), runs, servers, budget_s)


def summarize(results: dict[str, dict[str, Any]], sizes: list[int], load_before: tuple[float, ...]) -> dict[str, Any]:
    small, large = str(min(sizes)), str(max(sizes))
    metrics = ("find_one_by_id", "update_one_by_id", "find_indexed_field_limit_20", "find_50_ids_in")
    growth = {
        store: {
            m: round(results[store]["sizes"][large][m]["median_ms"] / results[store]["sizes"][small][m]["median_ms"], 2)
            for m in metrics
        }
        for store in BACKENDS
    }

    def ratio(a: str, b: str, size: str, m: str) -> float:
        if m == "insert_many":  # a rate: higher is better
            key = "docs_per_s"
            return round(results[b]["sizes"][size][m][key] / results[a]["sizes"][size][m][key], 2)
        return round(results[a]["sizes"][size][m]["median_ms"] / results[b]["sizes"][size][m]["median_ms"], 2)

    speedups = {
        f"{b}_over_{a}": {size: {m: ratio(a, b, size, m) for m in (*metrics, "insert_many")} for size in (small, large)}
        for a, b in (("sqlite", "postgresql"), ("sqlite", "postgresql-plain"), ("postgresql-plain", "postgresql"))
    }
    pg = speedups["postgresql_over_sqlite"][large]
    faster = "postgresql" if sum(v > 1 for v in pg.values()) * 2 > len(pg) else "sqlite"
    client = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "phase": "store",
        "what": "FerretDB 1.24 on PostgreSQL (with and without the stack's GIN twins of its indexes) vs on "
        "SQLite: the same report-shaped documents, the same operations, alternating between the servers in one run",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "postgresql_version": postgresql_version(),
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
            "bench_client_cpu_s": round(client.ru_utime + client.ru_stime, 1),
        },
        "backends": results,
        "growth_large_over_small": growth,
        "speedup": speedups,
        "faster_at_largest_size": faster,
    }


def postgresql_version() -> str:
    import subprocess

    out = subprocess.run(
        [str(stack.postgresql_bin_dir() / "postgres"), "--version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile", default=os.environ.get("SNAPFIX_STACK_PROFILE", "bench"), choices=list(stack.PORT_BASE)
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_STORE_RUNS", "50")))
    parser.add_argument(
        "--budget-s",
        type=float,
        default=float(os.environ.get("BENCH_STORE_BUDGET_S", "20")),
        help="time per operation, backend and size after which it stops repeating (at least 3 runs)",
    )
    args = parser.parse_args()
    out = run(args.profile, sorted(args.sizes), args.runs, args.budget_s)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "store.json").write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(
            {
                "growth_large_over_small": out["growth_large_over_small"],
                "speedup": out["speedup"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
