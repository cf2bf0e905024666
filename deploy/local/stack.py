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
import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WEB = ROOT / "web"
NODE_MIN = (20, 19)  # Vite's floor (web/package.json "engines")
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


class StepFailed(RuntimeError):
    """A named set-up step failed; the message says which and where to look."""


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


# --------------------------------------------------------------------------- processes


def log(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def spawn(name: str, cmd: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
    pidfile = workdir / f"{name}.pid"
    if pid_alive(pidfile):
        log(f"{name}: already running (pid {pidfile.read_text().strip()})")
        return
    workdir.mkdir(parents=True, exist_ok=True)
    logfile = (workdir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        cmd,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=workdir,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    pidfile.write_text(str(proc.pid))
    log(f"{name}: started (pid {proc.pid}, log {workdir / (name + '.log')})")


def stop(name: str, workdir: Path, timeout: float = 20.0) -> None:
    pidfile = workdir / f"{name}.pid"
    pid = pid_alive(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pidfile):
        time.sleep(0.1)
        with contextlib.suppress(ChildProcessError):  # reap our own child if it is one
            os.waitpid(pid, os.WNOHANG)
    if pid_alive(pidfile):
        os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    log(f"{name}: stopped")


def wait_until(step: str, check, timeout: float, logfile: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    hint = ""
    if logfile and logfile.exists():
        tail = logfile.read_text(errors="replace").splitlines()[-15:]
        hint = f"\n--- last lines of {logfile} ---\n" + "\n".join(tail)
    raise StepFailed(f"step '{step}' not ready after {timeout:.0f}s{hint}")


def run_step(
    step: str, cmd: list[str], cwd: Path, env: dict[str, str] | None = None, as_postgres: bool = False
) -> None:
    log(f"{step} ...")
    try:
        result = subprocess.run(
            cmd,
            check=False,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=1800,  # a first download or build on a slow line
            **(postgres_user() if as_postgres else {}),
        )
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"step '{step}' did not finish in {exc.timeout:.0f}s ({' '.join(cmd)})") from None
    if result.returncode != 0:
        raise StepFailed(f"step '{step}' failed ({' '.join(cmd)}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


# --------------------------------------------------------------------------- installs


def kafka_lib() -> Path:
    lib = ARTIFACTS / "kafka-lib"
    stamp = lib / ".pom-stamp"
    pom = (HERE / "kafka" / "pom.xml").read_bytes()
    if stamp.exists() and stamp.read_bytes() == pom:
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StepFailed("step 'kafka artifact download' needs Maven and a JDK 17+ on PATH")
    shutil.rmtree(lib, ignore_errors=True)
    run_step(
        "kafka artifact download (Maven Central)",
        ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
        HERE / "kafka",
    )
    stamp.write_bytes(pom)
    return lib


def s3proxy_lib() -> Path:
    lib = ARTIFACTS / "s3proxy-lib"
    stamp = lib / ".pom-stamp"
    pom = (HERE / "s3proxy" / "pom.xml").read_bytes()
    if stamp.exists() and stamp.read_bytes() == pom:
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StepFailed("step 's3proxy artifact download' needs Maven and a JDK 17+ on PATH")
    shutil.rmtree(lib, ignore_errors=True)
    run_step(
        "s3proxy artifact download (Maven Central)",
        ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
        HERE / "s3proxy",
    )
    stamp.write_bytes(pom)
    return lib


def ferretdb_bin() -> Path:
    out = ARTIFACTS / "bin" / "ferretdb"
    src = HERE / "ferretdb"
    newest = max(p.stat().st_mtime for p in src.iterdir())
    if out.exists() and out.stat().st_mtime >= newest:
        return out
    if shutil.which("go") is None:
        raise StepFailed("step 'ferretdb build' needs Go on PATH")
    out.parent.mkdir(parents=True, exist_ok=True)
    run_step("ferretdb build (Go module proxy)", ["go", "build", "-o", str(out), "."], src, {"CGO_ENABLED": "0"})
    return out


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


def postgresql_bin_dir() -> Path:
    """Debian keeps the server's programs in /usr/lib/postgresql/<major>/bin (not on PATH)."""

    def found() -> Path | None:
        dirs = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if d.parent.name.isdigit()]
        dirs = sorted((d for d in dirs if (d / "pg_ctl").exists()), key=lambda d: int(d.parent.name))
        if dirs:
            return dirs[-1]  # the newest major version installed
        on_path = shutil.which("pg_ctl")
        return Path(on_path).resolve().parent if on_path else None

    if (bin_dir := found()) is not None:
        return bin_dir
    if os.geteuid() == 0 and shutil.which("apt-get"):
        run_step("postgresql install (apt-get update)", ["apt-get", "update", "-qq"], ROOT)
        # The package's own cluster must not start (the stack runs its own): policy-rc.d 101 = "do not start".
        policy = Path("/usr/sbin/policy-rc.d")
        own_policy = not policy.exists()
        if own_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            run_step(
                "postgresql install (apt-get install postgresql)",
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
                ROOT,
                {"DEBIAN_FRONTEND": "noninteractive"},
            )
        finally:
            if own_policy:
                policy.unlink(missing_ok=True)
        if (bin_dir := found()) is not None:
            return bin_dir
    raise StepFailed("step 'postgresql install': no PostgreSQL server found and it cannot be installed (need root)")


# --------------------------------------------------------------------------- servers


def kafka_cluster_id(layout: Layout) -> str:
    f = layout.dir / "kafka-cluster-id"
    if not f.exists():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return f.read_text().strip()


def kafka_properties(layout: Layout, node: int, data: Path) -> str:
    n = layout.kafka_nodes
    voters = ",".join(f"{i}@127.0.0.1:{layout.controller_port(i)}" for i in range(1, n + 1))
    min_isr = 2 if n >= 3 else 1
    plain, controller = (
        f"PLAINTEXT://127.0.0.1:{layout.kafka_port(node)}",
        f"CONTROLLER://127.0.0.1:{layout.controller_port(node)}",
    )
    listeners, advertised, protocols, tls = (
        f"{plain},{controller}",
        plain,
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "",
    )
    if layout.kafka_tls:
        # Kafka reads a PEM keystore (the unencrypted key, then the certificate) since KIP-651.
        ssl_listener = f"SSL://127.0.0.1:{layout.kafka_tls_port(node)}"
        listeners, advertised, protocols = (
            f"{listeners},{ssl_listener}",
            f"{advertised},{ssl_listener}",
            f"{protocols},SSL:SSL",
        )
        keystore = layout.kafka_tls_dir / "keystore.pem"
        tls = f"ssl.keystore.type=PEM\nssl.keystore.location={keystore}\nssl.client.auth=none\n"
    return f"""
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners={advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map={protocols}
{tls}log.dirs={data}
auto.create.topics.enable=false
default.replication.factor={n}
min.insync.replicas={min_isr}
unclean.leader.election.enable=false
offsets.topic.replication.factor={n}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={n}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={n}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=4194304
num.network.threads=2
num.io.threads=4
"""


LOG4J2 = """
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
"""


def kafka_tls_certificates(layout: Layout) -> None:
    """A local CA and a broker certificate for 127.0.0.1/localhost (the edge's openssl recipe)."""
    render = load_edge_render()
    folder = layout.kafka_tls_dir
    try:
        _, cert, key = render.certificates(folder, hosts=("localhost", "127.0.0.1"))
    except render.RenderError as exc:
        raise StepFailed(f"step 'kafka tls certificates': {exc}") from exc
    keystore = folder / "keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text())
    keystore.chmod(0o600)


def load_edge_render():  # a module loaded from its file
    import importlib.util

    name = "snapfix_edge_render"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "nginx" / "render.py")
    assert spec is not None
    assert spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    sys.modules[name] = render  # its dataclasses look their module up there
    spec.loader.exec_module(render)
    return render


def start_kafka(layout: Layout, node: int | None = None) -> None:
    lib = kafka_lib()
    if layout.kafka_tls:
        kafka_tls_certificates(layout)
    cluster = kafka_cluster_id(layout)
    java = shutil.which("java") or "java"
    nodes = [node] if node else list(range(1, layout.kafka_nodes + 1))
    for n in nodes:
        home = layout.dir / f"kafka-{n}"
        home.mkdir(parents=True, exist_ok=True)
        props = home / "server.properties"
        props.write_text(kafka_properties(layout, n, home / "data"))
        (home / "log4j2.properties").write_text(LOG4J2)
        cp = f"{lib}/*"
        if not (home / "data" / "meta.properties").exists():
            run_step(
                f"kafka format (node {n})",
                [
                    java,
                    "-cp",
                    cp,
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster}",  # "=" form: a random id may start with "-"
                    "-c",
                    str(props),
                    "--ignore-formatted",
                ],
                home,
            )
        spawn(
            "kafka",
            [
                java,
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                # Tests want a fast start; run and bench want the optimizing JIT.
                *(["-XX:TieredStopAtLevel=1"] if layout.profile == "test" else []),
                f"-Dkafka.logs.dir={home / 'logs'}",
                f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
                "-cp",
                cp,
                "kafka.Kafka",
                str(props),
            ],
            home,
        )
    for n in nodes:
        home = layout.dir / f"kafka-{n}"
        wait_until(f"kafka start (node {n})", lambda n=n: port_open(layout.kafka_port(n)), 90, home / "kafka.log")
    wait_until("kafka ready (metadata)", lambda: kafka_answers(layout), 90, layout.dir / "kafka-1" / "kafka.log")


def kafka_answers(layout: Layout) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=layout.bootstrap, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), 5)
            cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
            return len(cluster["brokers"]) >= layout.kafka_nodes
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def create_topics(layout: Layout) -> None:
    from snapfix_shared.topics import ensure_topics

    log("kafka topics ...")
    created = asyncio.run(ensure_topics(layout.bootstrap, replication_factor=layout.kafka_nodes))
    log(f"kafka topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))


def postgres_user() -> dict[str, object]:
    """PostgreSQL refuses to run as root: as root, its programs run as Debian's ``postgres`` user."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StepFailed("step 'postgresql': no 'postgres' user (Debian's postgresql package creates it)") from None
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def postgresql_home(layout: Layout) -> Path:
    return layout.dir / "postgresql"


def postgresql_pid(layout: Layout) -> int | None:
    """The postmaster's pid, from the first line of ``postmaster.pid`` (PostgreSQL removes it when it stops)."""
    try:
        pid = int((postgresql_home(layout) / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # a stale file whose pid was reused
    except (OSError, ValueError):
        return None
    return pid


# FerretDB 1.24 holds one pooled connection per update of a write command until the command
# ends: a command of as many updates as the pool has (its default, 50) waits for ever, and so
# does every request after it. A pool of 200 (PostgreSQL allows 250) keeps that out of reach.
FERRETDB_POOL = 200


def postgresql_url(layout: Layout) -> str:
    """FerretDB's connection (the password is passed as PGPASSWORD, not on the command line)."""
    return f"postgres://ferretdb@127.0.0.1:{layout.postgresql_port}/ferretdb?pool_max_conns={FERRETDB_POOL}"


def postgresql_answers(layout: Layout, bin_dir: Path) -> bool:
    result = subprocess.run(
        [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(layout.postgresql_port), "-t", "2"],
        check=False,
        capture_output=True,
        timeout=10,
    )
    return result.returncode == 0


# FerretDB 1.24 declares a Mongo index as a btree on ``(_jsonb -> 'field')``, but filters with
# ``_jsonb -> 'field' @> '"value"'``, which a btree cannot serve: every query scanned the table.
# An event trigger gives each such index a GIN twin (jsonb_path_ops serves @>), so a find or
# update by _id or by an indexed field goes through an index; existing indexes get theirs at start.
# Top-level fields only (FerretDB filters dotted paths with #>, which these do not serve).
POSTGRESQL_GIN_TWINS = r"""
CREATE OR REPLACE FUNCTION public.snapfix_gin_twin(idx oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tbl oid;
  ncols int;
  nsp text;
  rel text;
  expr text;
BEGIN
  SELECT x.indrelid, x.indnkeyatts INTO tbl, ncols
    FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam
    WHERE x.indexrelid = idx AND a.amname = 'btree';
  IF tbl IS NULL THEN
    RETURN;
  END IF;
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  IF nsp IN ('pg_catalog', 'information_schema', 'pg_toast') OR left(rel, 10) = '_ferretdb_' THEN
    RETURN;
  END IF;
  FOR i IN 1..ncols LOOP
    expr := pg_get_indexdef(idx, i, false);
    IF expr ~ '^\(*_jsonb -> ''[^'']*''::text\)*$' THEN
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((%s) jsonb_path_ops)',
                     'snapfix_gin_' || md5(tbl::text || expr), nsp, rel, expr);
    END IF;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION public.snapfix_gin_twins_on_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
    PERFORM public.snapfix_gin_twin(r.objid);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS snapfix_gin_twins;
CREATE EVENT TRIGGER snapfix_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION public.snapfix_gin_twins_on_create();
SELECT public.snapfix_gin_twin(indexrelid) FROM pg_index;
"""


def start_postgresql(layout: Layout) -> None:
    """A PostgreSQL server of the stack's own for FerretDB: its data under the profile, loopback only."""
    bin_dir = postgresql_bin_dir()
    home = postgresql_home(layout)
    data = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    user = postgres_user()
    if user:
        shutil.chown(home, "postgres", "postgres")
        reach = subprocess.run(["test", "-w", str(home)], check=False, timeout=10, **user)
        if reach.returncode != 0:
            raise StepFailed(
                f"step 'postgresql': the postgres user cannot reach {home} (a folder on the way is closed to other"
                " users): put the checkout or SNAPFIX_STACK_DIR where it can, or use --store sqlite"
            )
    password = local_secret(layout, "postgresql-password")
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)  # an initdb that did not finish
        pwfile = home / "initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if user:
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            run_step(
                "postgresql initdb",
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "ferretdb",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                home,
                as_postgres=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)
    logfile = home / "postgresql.log"
    if pid := postgresql_pid(layout):
        log(f"postgresql: already running (pid {pid})")
    else:
        # No Unix socket (its path would depend on where the checkout is); TCP on loopback only.
        # Custom plans always: FerretDB's prepared statements name the field as a parameter
        # (``_jsonb->$1 @> $2``), and only a plan made with its value can use an index.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={layout.postgresql_port} -c unix_socket_directories=''"
            " -c plan_cache_mode=force_custom_plan"
            f" -c max_connections={FERRETDB_POOL + 50}"
        )
        run_step(
            "postgresql start",
            [str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(logfile), "-w", "-t", "60", "-o", options],
            home,
            as_postgres=True,
        )
        log(f"postgresql: started (pid {postgresql_pid(layout)}, log {logfile})")
    wait_until("postgresql ready", lambda: postgresql_answers(layout, bin_dir), 30, logfile)
    env = {"PGPASSWORD": password}
    connect = ["-h", "127.0.0.1", "-p", str(layout.postgresql_port), "-U", "ferretdb"]
    exists = subprocess.run(
        [
            str(bin_dir / "psql"),
            *connect,
            "-d",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname='ferretdb'",
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
    )
    if exists.returncode != 0:
        raise StepFailed(f"step 'postgresql database check' failed:\n{exists.stderr[-2000:]}")
    if exists.stdout.strip() != "1":
        run_step("postgresql createdb ferretdb", [str(bin_dir / "createdb"), *connect, "ferretdb"], home, env)
    sql = POSTGRESQL_GIN_TWINS if layout.gin_twins else "DROP EVENT TRIGGER IF EXISTS snapfix_gin_twins;"
    twins = subprocess.run(
        [str(bin_dir / "psql"), *connect, "-d", "ferretdb", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=sql,
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,  # the first start on existing data builds the missing indexes
    )
    if twins.returncode != 0:
        raise StepFailed(f"step 'postgresql gin indexes' failed:\n{twins.stderr[-2000:]}")


def stop_postgresql(layout: Layout, timeout: float = 30.0) -> None:
    pid = postgresql_pid(layout)
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)  # "fast" shutdown: ends the sessions, checkpoints, exits
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and postgresql_pid(layout):
        time.sleep(0.1)
    if postgresql_pid(layout):
        os.kill(pid, signal.SIGQUIT)  # "immediate" shutdown: crash recovery at the next start
    log("postgresql: stopped")


def ferretdb_answers(layout: Layout) -> bool:
    """A real command, so that a backend FerretDB cannot reach shows as not ready."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient = MongoClient(
        f"mongodb://127.0.0.1:{layout.mongo_port}/", serverSelectionTimeoutMS=2000, timeoutMS=5000
    )
    try:
        client.admin.command("listDatabases")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def start_ferretdb(layout: Layout) -> None:
    binary = ferretdb_bin()
    home = layout.dir / "ferretdb"
    (home / "data").mkdir(parents=True, exist_ok=True)
    backend = home / "backend"
    if pid_alive(home / "ferretdb.pid") and backend.exists() and backend.read_text().strip() != layout.store:
        log(f"ferretdb: switching its backend to {layout.store}")
        stop("ferretdb", home)
    env: dict[str, str] = {}
    if layout.store == "postgresql":
        start_postgresql(layout)
        handler = ["-handler=postgresql", f"-postgresql-url={postgresql_url(layout)}"]
        env["PGPASSWORD"] = local_secret(layout, "postgresql-password")
    else:
        handler = ["-handler=sqlite", f"-sqlite-url=file:{home / 'data'}/"]
    backend.write_text(layout.store)
    spawn(
        "ferretdb",
        [str(binary), *handler, f"-listen-addr=127.0.0.1:{layout.mongo_port}", "-log-level=warn"],
        home,
        env,
    )
    wait_until("ferretdb start", lambda: port_open(layout.mongo_port), 30, home / "ferretdb.log")
    wait_until(f"ferretdb ready ({layout.store})", lambda: ferretdb_answers(layout), 30, home / "ferretdb.log")


# Local-only credentials of the S3 test server (S3Proxy checks AWS signatures v2/v4 with them).
S3_IDENTITY = ("snapfix-local", "snapfix-local-s3-secret")
S3_BUCKET = "snapfix-media"
S3_LOGBACK = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def start_s3(layout: Layout) -> None:
    """S3Proxy (Apache-2.0) on the filesystem: an S3-compatible server, buckets are folders."""
    lib = s3proxy_lib()
    home = layout.dir / "s3"
    data = home / "data"
    (data / S3_BUCKET).mkdir(parents=True, exist_ok=True)  # the bucket: a folder of the filesystem backend
    (home / "logback.xml").write_text(S3_LOGBACK)
    (home / "s3proxy.conf").write_text(
        f"s3proxy.endpoint=http://127.0.0.1:{layout.s3_port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={S3_IDENTITY[0]}\n"
        f"s3proxy.credential={S3_IDENTITY[1]}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={data}\n"
    )
    java = shutil.which("java") or "java"
    spawn(
        "s3proxy",
        [
            java,
            "-Xms64m",
            "-Xmx256m",
            *(["-XX:TieredStopAtLevel=1"] if layout.profile == "test" else []),
            f"-Dlogback.configurationFile={home / 'logback.xml'}",
            "-cp",
            f"{lib}/*",
            "org.gaul.s3proxy.Main",
            "--properties",
            str(home / "s3proxy.conf"),
        ],
        home,
    )
    wait_until("s3proxy start", lambda: port_open(layout.s3_port), 60, home / "s3proxy.log")


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


ADMIN_EMAIL = "admin@snapfix.example"  # a .local address is refused (special-use name)


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


def start_smtp_sink(layout: Layout) -> None:
    """Keeps every email notify sends as an .eml file under ``<profile>/mail/`` (nothing leaves the machine)."""
    if external_smtp():
        log(f"smtp: notify sends through {os.environ['NOTIFY_SMTP_HOST']} (NOTIFY_SMTP_HOST); no local sink")
        return
    home = layout.dir / "smtp-sink"
    mail = layout.dir / "mail"
    cmd = [sys.executable, str(HERE / "smtp_sink.py"), "--dir", str(mail), "--port", str(layout.smtp_port)]
    spawn("smtp-sink", cmd, home)
    wait_until("smtp sink start", lambda: port_open(layout.smtp_port), 30, home / "smtp-sink.log")
    log(f"smtp: every email is kept under {mail}")


def check_node() -> None:
    """Node.js >= 20.19 and npm, which build the web app."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        raise StepFailed(
            f"step 'web': {missing} not on PATH; the web app needs Node.js {'.'.join(map(str, NODE_MIN))}+ with npm"
        )
    found = subprocess.run([node, "--version"], check=False, capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        version = tuple(int(part) for part in found.removeprefix("v").split(".")[:2])
    except ValueError:
        version = ()
    if version < NODE_MIN:
        need = ".".join(map(str, NODE_MIN))
        raise StepFailed(f"step 'web': Node.js {found or '?'} is too old; the web app (Vite) needs Node.js {need}+")


def newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def build_web() -> Path:
    """``npm ci`` when package-lock.json is newer than what node_modules was installed from, and
    ``npm run build`` when a source is newer than the last build. Returns the built app (web/dist)."""
    check_node()
    lock, installed = WEB / "package-lock.json", WEB / "node_modules" / ".package-lock.json"
    if not installed.exists() or lock.stat().st_mtime > installed.stat().st_mtime:
        run_step("web: npm ci", ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], WEB)
        installed.touch()  # npm keeps the file's time when nothing changed
    else:
        log("web: node_modules up to date with package-lock.json")
    dist = WEB / "dist"
    sources = [WEB / name for name in ("src", "public", "index.html", "package.json", "package-lock.json")]
    sources += [*WEB.glob("vite.config.*"), *WEB.glob("tsconfig*.json")]
    built = dist / "index.html"
    if built.exists() and built.stat().st_mtime >= newest_mtime([p for p in sources if p.exists()]):
        log(f"web: {dist} is newer than its sources")
    else:
        run_step("web: npm run build", ["npm", "run", "build"], WEB)
        built.touch()  # the build's time, whatever the bundler copied
    return dist


def start_apps(layout: Layout) -> None:
    web_dist = os.environ.get("SNAPFIX_WEB_DIST")
    if web_dist is None:
        web_dist = str(build_web())
    else:  # a build made elsewhere (or "" for none): served as it is
        log(f"web: SNAPFIX_WEB_DIST={web_dist!r} is served as it is (not built here)")
    start_smtp_sink(layout)
    home = layout.dir / "apps"
    gateway_url = f"http://127.0.0.1:{layout.app_port('gateway')}"
    identity = {
        "SNAPFIX_JWT_SECRET": local_secret(layout, "jwt-secret"),
        "SNAPFIX_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "SNAPFIX_BOOTSTRAP_ADMIN_PASSWORD": local_secret(layout, "admin-password"),
        "SNAPFIX_PUBLIC_BASE_URL": gateway_url,
        # The gateway serves the app; e-mailed links (gateway and notify) open its pages.
        "SNAPFIX_WEB_DIST": web_dist,
        "SNAPFIX_WEB_BASE_URL": gateway_url,
    }
    for app, (module, _) in APPS.items():
        env = {**layout.env(), "SNAPFIX_HTTP_PORT": str(layout.app_port(app)), "OTEL_SERVICE_NAME": f"snapfix-{app}"}
        if app == "gateway":
            env |= identity
        if app == "media":
            env["SNAPFIX_UPLOAD_SECRET"] = local_secret(layout, "upload-secret")
            if layout.s3:
                env["SNAPFIX_STORAGE_BACKEND"] = "s3"
        if app == "notify":  # links in emails point at the gateway; unsubscribe links are signed
            env["SNAPFIX_PUBLIC_BASE_URL"] = env["SNAPFIX_WEB_BASE_URL"] = gateway_url
            env["SNAPFIX_UNSUBSCRIBE_SECRET"] = local_secret(layout, "unsubscribe-secret")
        spawn(app, [sys.executable, "-m", module], home, env)
    for app in APPS:
        url = f"http://127.0.0.1:{layout.app_port(app)}/readyz"
        wait_until(f"{app} ready ({url})", lambda url=url: http_ok(url), 60, home / f"{app}.log")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except OSError:
        return False


# --------------------------------------------------------------------------- verbs


# With --edge: nginx (deploy/nginx, TLS 1.3) in front of the gateway and a second replica.
EDGE_PORTS = {"https": 8443, "http": 8080, "purge": 8081, "gateway-2": 8010}


def edge_url(layout: Layout) -> str:
    return f"https://127.0.0.1:{EDGE_PORTS['https'] + layout.base}"


def start_edge(layout: Layout) -> None:
    render = load_edge_render()
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise StepFailed("step 'edge': nginx is not installed (deploy/local/install.sh installs it)")
    second = EDGE_PORTS["gateway-2"] + layout.base
    env = {
        **layout.env(),
        "SNAPFIX_HTTP_PORT": str(second),
        "OTEL_SERVICE_NAME": "snapfix-gateway",
        "SNAPFIX_JWT_SECRET": local_secret(layout, "jwt-secret"),  # the replicas accept each other's tokens
        "SNAPFIX_PUBLIC_BASE_URL": edge_url(layout),
        "SNAPFIX_WEB_DIST": os.environ.get("SNAPFIX_WEB_DIST", str(WEB / "dist")),  # as start_apps
        "SNAPFIX_WEB_BASE_URL": edge_url(layout),
    }
    spawn("gateway-2", [sys.executable, "-m", "snapfix_gateway"], layout.dir / "apps", env)
    url = f"http://127.0.0.1:{second}/readyz"
    wait_until(f"gateway-2 ready ({url})", lambda: http_ok(url), 60, layout.dir / "apps" / "gateway-2.log")
    try:
        edge = render.render(
            layout.dir / "edge",
            gateways=[f"127.0.0.1:{layout.app_port('gateway')}", f"127.0.0.1:{second}"],
            https_port=EDGE_PORTS["https"] + layout.base,
            http_port=EDGE_PORTS["http"] + layout.base,
            purge_port=EDGE_PORTS["purge"] + layout.base,
        )
        render.check(edge)
    except render.RenderError as exc:
        raise StepFailed(f"step 'edge render': {exc}") from exc
    spawn("edge", edge.command(), edge.state)
    wait_until("edge start", lambda: port_open(edge.https_port), 20, edge.error_log)
    log(f"edge: {edge.url} (TLS 1.3; trust {edge.ca}, e.g. curl --cacert)")


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
