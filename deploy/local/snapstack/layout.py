"""Where a profile's stack lives: its state folder, its ports, and the settings its processes read."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parents[1]  # deploy/local: the build files of the servers
WEB = ROOT / "web"
STACK = Path(os.environ.get("SNAPFIX_STACK_DIR", ROOT / ".stack"))
ARTIFACTS = STACK / "artifacts"


# Port layout per profile; `make test` uses its own so it never collides with `make run`.
PORT_BASE = {"run": 0, "test": 10000, "bench": 20000}
# Extra developer stacks, so several people (or agents) can run the suites side by side.
PORT_BASE.update({f"dev{n}": n * 1000 for n in range(1, 10)})
# `make chaos` (3 brokers, both gateways behind nginx): ports between run's and dev1's, clear of both.
PORT_BASE["chaos"] = 500
# FerretDB's backend per profile, unless --store or SNAPFIX_FERRETDB_BACKEND says otherwise
# (then remembered by the profile). PostgreSQL measured faster at 100,000 reports
# (bench/store.py, bench/results/store.json); `test` stays on SQLite, which needs no server.
STORES = ("postgresql", "sqlite")
DEFAULT_STORE = {"run": "postgresql", "bench": "postgresql"}
APPS = {
    "gateway": ("snapfix_gateway", 8000),
    "issues": ("snapfix_issues", 8001),
    "media": ("snapfix_media", 8002),
    "notify": ("snapfix_notify", 8003),
    "analytics": ("snapfix_analytics", 8004),
}


# Local-only credentials of the S3 test server (S3Proxy checks AWS signatures v2/v4 with them).
S3_IDENTITY = ("snapfix-local", "snapfix-local-s3-secret")
S3_BUCKET = "snapfix-media"


@dataclass(frozen=True)
class Layout:
    profile: str
    kafka_nodes: int
    # An S3-compatible server (S3Proxy) for the media service's S3 backend: on for "test".
    s3: bool = False
    # A 3-master Redis Cluster next to the single Redis, for the cluster tests: on for "test".
    redis_cluster: bool = False
    # An extra TLS listener on each Kafka node (the client TLS tests): on for "test".
    kafka_tls: bool = False
    # FerretDB's backend: "sqlite" (embedded) or "postgresql" (a PostgreSQL server of the stack's own).
    store: str = "sqlite"
    # With PostgreSQL: a GIN index next to each index FerretDB declares, so that its queries use one
    # (POSTGRESQL_GIN_TWINS). Off only for the baseline of bench/store.py.
    gin_twins: bool = True

    @property
    def base(self) -> int:
        return PORT_BASE[self.profile]

    @property
    def dir(self) -> Path:
        return STACK / self.profile

    def kafka_port(self, node: int) -> int:
        return int(os.environ.get("SNAPFIX_KAFKA_PORT", 9092 + self.base)) + (node - 1) * 10

    def controller_port(self, node: int) -> int:
        return self.kafka_port(node) + 1

    def kafka_tls_port(self, node: int) -> int:
        return self.kafka_port(node) + 2

    @property
    def kafka_tls_dir(self) -> Path:
        return self.dir / "kafka-tls"

    @property
    def mongo_port(self) -> int:
        return int(os.environ.get("SNAPFIX_MONGO_PORT", 27017 + self.base))

    @property
    def redis_port(self) -> int:
        return int(os.environ.get("SNAPFIX_REDIS_PORT", 6379 + self.base))

    @property
    def postgresql_port(self) -> int:
        """FerretDB's PostgreSQL (not 5432, so that a system cluster on the default port never collides)."""
        return int(os.environ.get("SNAPFIX_POSTGRESQL_PORT", 5433 + self.base))

    def redis_cluster_port(self, node: int) -> int:
        """Node 1..3 of the Redis Cluster; its cluster bus is on port + 10 (``cluster-port``)."""
        return 6380 + self.base + node - 1

    @property
    def s3_port(self) -> int:
        return int(os.environ.get("SNAPFIX_S3_PORT", 9900 + self.base))

    def app_port(self, app: str) -> int:
        return APPS[app][1] + self.base

    @property
    def smtp_port(self) -> int:
        """The local SMTP sink (``make run``): every email notify sends lands in ``mail/``."""
        return int(os.environ.get("SNAPFIX_SMTP_SINK_PORT", 1025 + self.base))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port(n)}" for n in range(1, self.kafka_nodes + 1))

    def env(self) -> dict[str, str]:
        """The settings every SnapFix process of this profile reads."""
        env = {
            "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SNAPFIX_MONGO_URL": f"mongodb://127.0.0.1:{self.mongo_port}/",
            "SNAPFIX_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SNAPFIX_KAFKA_REPLICATION_FACTOR": str(self.kafka_nodes),
            # Which local stack these are, for tests that stop and start its servers.
            "SNAPFIX_STACK_PROFILE": self.profile,
        }
        for app in APPS:
            env[f"SNAPFIX_{app.upper()}_URL"] = f"http://127.0.0.1:{self.app_port(app)}"
        if self.s3:  # where the media service's S3 backend is (it is picked by SNAPFIX_STORAGE_BACKEND=s3)
            env |= {
                "SNAPFIX_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
                "SNAPFIX_S3_BUCKET": S3_BUCKET,
                "SNAPFIX_S3_REGION": "us-east-1",
                "SNAPFIX_S3_PATH_STYLE": "true",
                "SNAPFIX_S3_ACCESS_KEY_ID": S3_IDENTITY[0],
                "SNAPFIX_S3_SECRET_ACCESS_KEY": S3_IDENTITY[1],
            }
        if self.redis_cluster:  # a seed node; the processes use it with SNAPFIX_REDIS_CLUSTER=true
            env["SNAPFIX_REDIS_CLUSTER_URL"] = f"redis://127.0.0.1:{self.redis_cluster_port(1)}/0"
        if self.kafka_tls:  # the TLS listener and the CA that signed its certificate (not the processes' settings)
            env["SNAPFIX_KAFKA_TLS_BOOTSTRAP"] = f"127.0.0.1:{self.kafka_tls_port(1)}"
            env["SNAPFIX_KAFKA_TLS_CA"] = str(self.kafka_tls_dir / "ca.pem")
        if not external_smtp():  # else notify sends through the SMTP server named there
            env |= {"NOTIFY_SMTP_HOST": "127.0.0.1", "NOTIFY_SMTP_PORT": str(self.smtp_port)}
        return env


def local_secret(layout: Layout, name: str) -> str:
    """A random secret kept under the profile's state folder, the same on every start."""
    path = layout.dir / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def external_smtp() -> bool:
    """NOTIFY_SMTP_HOST names a server elsewhere (loopback is the sink's own address, as in a sourced env file)."""
    return os.environ.get("NOTIFY_SMTP_HOST", "") not in {"", "127.0.0.1", "localhost"}
