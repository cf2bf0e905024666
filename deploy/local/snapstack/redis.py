"""Redis (Debian's package): the single server every profile runs, and the 3-master Redis Cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .layout import ROOT, Layout
from .processes import StepFailed, port_open, run_step, spawn, wait_until


def redis_bin() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        run_step("redis install (apt-get update)", ["apt-get", "update", "-qq"], ROOT)
        run_step(
            "redis install (apt-get install redis-server)", ["apt-get", "install", "-y", "-qq", "redis-server"], ROOT
        )
        found = shutil.which("redis-server") or "/usr/bin/redis-server"
        if Path(found).exists():
            return found
    raise StepFailed("step 'redis install': no redis-server on PATH and it cannot be installed (need root and apt-get)")


def start_redis(layout: Layout) -> None:
    binary = redis_bin()
    home = layout.dir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes"] if layout.profile == "run" else ["--appendonly", "no"]
    spawn(
        "redis",
        [
            binary,
            "--port",
            str(layout.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(home),
            *persistence,
        ],
        home,
    )
    wait_until("redis start", lambda: port_open(layout.redis_port), 20, home / "redis.log")


REDIS_CLUSTER_NODES = 3


def start_redis_cluster(layout: Layout) -> None:
    """Three masters (no replicas) forming one Redis Cluster: the production topology's client path."""
    binary = redis_bin()
    ports = [layout.redis_cluster_port(n) for n in range(1, REDIS_CLUSTER_NODES + 1)]
    for n, port in enumerate(ports, start=1):
        home = layout.dir / f"redis-cluster-{n}"
        home.mkdir(parents=True, exist_ok=True)
        spawn(
            "redis",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(port + 10),
                "--cluster-config-file",
                str(home / "nodes.conf"),
                "--cluster-node-timeout",
                "5000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(home),
            ],
            home,
        )
    for n, port in enumerate(ports, start=1):
        wait_until(
            f"redis cluster start (node {n})",
            lambda port=port: port_open(port),
            20,
            layout.dir / f"redis-cluster-{n}" / "redis.log",
        )
    cli = str(Path(binary).with_name("redis-cli"))
    if redis_cluster_info(cli, ports[0]).get("cluster_known_nodes") == "1":
        # Nodes keep their cluster in nodes.conf: only a fresh set is created (and waited for).
        run_step(
            "redis cluster create",
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            layout.dir,
        )
    wait_until(
        "redis cluster ready (cluster_state:ok)",
        lambda: all(redis_cluster_info(cli, p).get("cluster_state") == "ok" for p in ports),
        30,
        layout.dir / "redis-cluster-1" / "redis.log",
    )


def redis_cluster_info(cli: str, port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of one node as a dict (empty if it does not answer)."""
    result = subprocess.run(
        [cli, "-p", str(port), "cluster", "info"], check=False, capture_output=True, text=True, timeout=10
    )
    return dict(line.strip().split(":", 1) for line in result.stdout.splitlines() if ":" in line)
