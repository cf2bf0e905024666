"""What ``stack.py`` does with a whole profile: bring it up, stop one server of it, bring it down, report it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .apps import ADMIN_EMAIL, start_apps
from .edge import start_edge
from .ferretdb import start_ferretdb
from .kafka import create_topics, start_kafka
from .layout import APPS, Layout
from .postgresql import postgresql_home, postgresql_pid, stop_postgresql
from .processes import log, pid_alive, port_open, stop
from .redis import REDIS_CLUSTER_NODES, redis_bin, start_redis, start_redis_cluster
from .s3 import start_s3


def up(layout: Layout, apps: bool, edge: bool = False) -> None:
    (layout.dir).mkdir(parents=True, exist_ok=True)
    (layout.dir / "kafka-nodes").write_text(str(layout.kafka_nodes))
    (layout.dir / "store").write_text(layout.store)  # remembered by the next `up` of this profile
    if layout.s3:
        (layout.dir / "s3").mkdir(parents=True, exist_ok=True)
    if layout.redis_cluster:
        (layout.dir / "redis-cluster").touch()  # remembered by the next `up` of this profile
    if layout.kafka_tls:
        (layout.dir / "kafka-tls").mkdir(parents=True, exist_ok=True)  # remembered likewise
    start_redis(layout)
    start_ferretdb(layout)
    if layout.store != "postgresql":
        stop_postgresql(layout)  # the profile switched to SQLite
    start_kafka(layout)
    create_topics(layout)
    if layout.s3:
        start_s3(layout)
    if layout.redis_cluster:
        start_redis_cluster(layout)
    env_file = layout.dir / "env"
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in layout.env().items()))
    if apps:
        start_apps(layout)
        if edge:
            start_edge(layout)
        gw = f"http://127.0.0.1:{layout.app_port('gateway')}"
        log(f"SnapFix is up. Web app: {gw}/  API: {gw}/v1  API docs: {gw}/docs")
        password = layout.dir / "admin-password"
        log(f"Administrator: {ADMIN_EMAIL}, password in {password}")
    log(f"stack '{layout.profile}' is up; its settings are in {env_file}")


def stop_component(layout: Layout, component: str) -> None:
    """Stop one server of the stack (outage tests); ``start`` brings it back with its data."""
    if component == "kafka":
        for n in range(1, layout.kafka_nodes + 1):
            stop("kafka", layout.dir / f"kafka-{n}", timeout=30)
    elif component == "redis":
        # Saved first, so that sessions and caches survive the outage like a persistent Redis.
        subprocess.run(
            [str(Path(redis_bin()).with_name("redis-cli")), "-p", str(layout.redis_port), "save"],
            check=False,
            capture_output=True,
            timeout=30,
        )
        stop("redis", layout.dir / "redis")
    elif component == "postgresql":
        stop_postgresql(layout)
    else:
        stop("ferretdb", layout.dir / "ferretdb")


def down(layout: Layout) -> None:
    stop("edge", layout.dir / "edge")
    stop("gateway-2", layout.dir / "apps")
    for app in reversed(list(APPS)):
        stop(app, layout.dir / "apps")
    stop("smtp-sink", layout.dir / "smtp-sink")
    for n in range(1, 4):
        stop("kafka", layout.dir / f"kafka-{n}", timeout=30)
    stop("ferretdb", layout.dir / "ferretdb")
    stop_postgresql(layout)
    stop("redis", layout.dir / "redis")
    stop("s3proxy", layout.dir / "s3")
    for n in range(1, REDIS_CLUSTER_NODES + 1):
        stop("redis", layout.dir / f"redis-cluster-{n}")


def status(layout: Layout) -> int:
    rows = [
        ("redis", layout.dir / "redis", layout.redis_port),
        ("ferretdb", layout.dir / "ferretdb", layout.mongo_port),
    ]
    if layout.store == "postgresql" or postgresql_pid(layout):
        rows.append(("postgresql", postgresql_home(layout), layout.postgresql_port))
    rows += [("kafka", layout.dir / f"kafka-{n}", layout.kafka_port(n)) for n in range(1, layout.kafka_nodes + 1)]
    if layout.s3:
        rows.append(("s3proxy", layout.dir / "s3", layout.s3_port))
    if layout.redis_cluster:
        rows += [
            ("redis", layout.dir / f"redis-cluster-{n}", layout.redis_cluster_port(n))
            for n in range(1, REDIS_CLUSTER_NODES + 1)
        ]
    rows += [(app, layout.dir / "apps", layout.app_port(app)) for app in APPS]
    rows.append(("smtp-sink", layout.dir / "smtp-sink", layout.smtp_port))
    down_count = 0
    for name, home, port in rows:
        pid = postgresql_pid(layout) if name == "postgresql" else pid_alive(home / f"{name}.pid")
        state = "up" if pid and port_open(port) else ("starting" if pid else "down")
        down_count += state != "up" and name in {"redis", "ferretdb", "kafka", "postgresql"}
        detail = f" backend {layout.store}" if name == "ferretdb" else ""
        print(f"{name:10} {home.name:10} port {port:<6} {state}{f' (pid {pid})' if pid else ''}{detail}")
    return 1 if down_count else 0
