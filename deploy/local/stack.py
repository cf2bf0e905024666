"""The local stack: installs, starts, checks and stops the real servers SnapFix needs.

Apache Kafka (KRaft, from Maven Central artifacts), FerretDB (a MongoDB-wire server
built from the Go module proxy, on PostgreSQL or SQLite) and Redis (Debian's package)
run as native processes with their state under ``.stack/<profile>/``. With the
PostgreSQL backend the stack runs a PostgreSQL server of its own (Debian's package, its
own data directory and port). With ``--apps`` the web app (``web/``) is installed and built
with npm when its sources changed, and the five SnapFix processes are started too, the
gateway serving the app. Every step is idempotent and names itself when it fails.

    python deploy/local/stack.py up [--profile run|test] [--store postgresql|sqlite] [--kafka-nodes 3]
                                    [--apps [--edge]] [--redis-cluster] [--s3]
    python deploy/local/stack.py status | down | stop kafka | start kafka
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

# The parts beside this file (snapstack/): deploy/ holds scripts, not an installed package, and tests
# and benchmarks load this script from its file, so its folder is put on the import path here.
if (_folder := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _folder)

from snapstack.apps import ADMIN_EMAIL, start_apps
from snapstack.edge import EDGE_PORTS, edge_url, start_edge
from snapstack.ferretdb import start_ferretdb
from snapstack.kafka import kafka_answers, start_kafka
from snapstack.layout import APPS, DEFAULT_STORE, PORT_BASE, STACK, STORES, Layout
from snapstack.postgresql import postgresql_bin_dir, postgresql_pid, start_postgresql, stop_postgresql
from snapstack.processes import StepFailed, pid_alive, port_open, stop
from snapstack.redis import redis_bin, start_redis
from snapstack.verbs import down, status, stop_component, up

# What the benchmarks and tests that load this script use of it (bench/store.py, bench/chaos_stack.py, tests/unit).
__all__ = [
    "ADMIN_EMAIL",
    "APPS",
    "DEFAULT_STORE",
    "EDGE_PORTS",
    "PORT_BASE",
    "STACK",
    "STORES",
    "Layout",
    "StepFailed",
    "choose_store",
    "down",
    "edge_url",
    "kafka_answers",
    "main",
    "pid_alive",
    "port_open",
    "postgresql_bin_dir",
    "postgresql_pid",
    "redis_bin",
    "start_apps",
    "start_edge",
    "start_ferretdb",
    "start_kafka",
    "start_postgresql",
    "start_redis",
    "status",
    "stop",
    "stop_component",
    "stop_postgresql",
    "up",
]


def choose_store(profile: str, flag: str | None, fresh: bool = False) -> str:
    """FerretDB's backend: ``--store``, else SNAPFIX_FERRETDB_BACKEND, else what the profile last ran
    (unless it starts afresh), else the profile's default."""
    remembered = STACK / profile / "store"
    last = ""
    if not fresh:
        if remembered.exists():
            last = remembered.read_text().strip()
        elif any((STACK / profile / "ferretdb" / "data").glob("*.sqlite")):
            last = "sqlite"  # data from before the choice existed: kept where it is
    store = flag or os.environ.get("SNAPFIX_FERRETDB_BACKEND") or last or DEFAULT_STORE.get(profile, "sqlite")
    if store not in STORES:
        raise ValueError(f"FerretDB backend {store!r} is not one of {', '.join(STORES)} (SNAPFIX_FERRETDB_BACKEND)")
    return store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("verb", choices=["up", "down", "status", "stop", "start", "env"])
    parser.add_argument(
        "component",
        nargs="?",
        choices=["kafka", "redis", "ferretdb", "postgresql"],
        help="for stop/start: one component",
    )
    parser.add_argument(
        "--store",
        choices=STORES,
        default=None,
        help="FerretDB's backend (else SNAPFIX_FERRETDB_BACKEND, else what the profile last used, "
        f"else {', '.join(f'{p}: {s}' for p, s in DEFAULT_STORE.items())}, others: sqlite)",
    )
    parser.add_argument("--profile", default=os.environ.get("SNAPFIX_STACK_PROFILE", "run"), choices=list(PORT_BASE))
    parser.add_argument("--kafka-nodes", type=int, choices=[1, 3], default=None)
    parser.add_argument(
        "--apps", action="store_true", help="also build the web app (npm) and start the five SnapFix processes"
    )
    parser.add_argument(
        "--s3", action="store_true", help="also start an S3-compatible server (always on for the test profile)"
    )
    parser.add_argument(
        "--kafka-tls",
        action="store_true",
        help="also a TLS listener on each Kafka node, port + 2 (always on for the test profile)",
    )
    parser.add_argument(
        "--redis-cluster",
        action="store_true",
        help="also start a 3-master Redis Cluster (always on for the test profile)",
    )
    parser.add_argument("--fresh", action="store_true", help="with up: wipe the profile's state first")
    parser.add_argument(
        "--edge", action="store_true", help="with --apps: a second gateway and nginx (TLS 1.3) in front of both"
    )
    args = parser.parse_args()
    nodes_file = STACK / args.profile / "kafka-nodes"
    remembered = nodes_file.exists() and not args.fresh
    nodes = args.kafka_nodes or (int(nodes_file.read_text()) if remembered else 1)
    s3_file = STACK / args.profile / "s3"
    with_s3 = args.profile == "test" or args.s3 or (s3_file.exists() and not args.fresh)
    cluster_file = STACK / args.profile / "redis-cluster"
    with_cluster = args.profile == "test" or args.redis_cluster or (cluster_file.exists() and not args.fresh)
    tls_dir = STACK / args.profile / "kafka-tls"
    with_tls = args.profile == "test" or args.kafka_tls or (tls_dir.exists() and not args.fresh)
    try:
        store = choose_store(args.profile, args.store, fresh=args.fresh)
    except ValueError as exc:
        parser.error(str(exc))
    layout = Layout(args.profile, nodes, s3=with_s3, redis_cluster=with_cluster, kafka_tls=with_tls, store=store)
    try:
        if args.verb == "up":
            if args.fresh:
                down(layout)
                shutil.rmtree(layout.dir, ignore_errors=True)
            up(layout, args.apps, edge=args.edge)
        elif args.verb == "down":
            down(layout)
        elif args.verb == "status":
            return status(layout)
        elif args.verb == "env":
            print("".join(f"export {k}={v}\n" for k, v in layout.env().items()), end="")
        elif args.verb == "stop":
            stop_component(layout, args.component or "kafka")
        elif args.verb == "start":
            starts = {"kafka": start_kafka, "redis": start_redis, "ferretdb": start_ferretdb}
            starts["postgresql"] = start_postgresql
            starts[args.component or "kafka"](layout)
    except StepFailed as exc:
        print(f"[stack] FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
