"""Apache Kafka in KRaft mode, from Maven Central artifacts: one node or three, plaintext and TLS listeners."""

from __future__ import annotations

import asyncio
import base64
import shutil
import uuid
from pathlib import Path

from .edge import load_edge_render
from .layout import ARTIFACTS, HERE, Layout
from .processes import StepFailed, log, port_open, run_step, spawn, wait_until


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


# Kafka's own launcher's collector settings (kafka-run-class.sh): G1 aiming at 20 ms pauses (the
# JVM's default aims at 200; young pauses under the accept load were 19-70 ms with the default,
# 14-24 ms with these). The test profile's collector.
G1 = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
]


def start_kafka(layout: Layout, node: int | None = None) -> None:
    lib = kafka_lib()
    if layout.kafka_tls:
        kafka_tls_certificates(layout)
    cluster = kafka_cluster_id(layout)
    java = shutil.which("java") or "java"
    nodes = [node] if node else list(range(1, layout.kafka_nodes + 1))
    for n in nodes:
        home = layout.dir / f"kafka-{n}"
        logs = home / "logs"  # Kafka's own logs and the collector's
        logs.mkdir(parents=True, exist_ok=True)  # the JVM does not make its GC log's folder
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
                # ZGC: its pauses are under a millisecond, where G1's young pauses (Kafka's launcher's
                # settings, a 20 ms goal) took 12-52 ms on a core shared with the apps, and every
                # acks=all produce waited them out; the broker's CPU per report is the same
                # (docs/operations.md, "Scale"). Tests keep Kafka's launcher's G1 (``G1``): no test
                # times a tail, and it is the collector their run times were measured with.
                *(G1 if layout.profile == "test" else ["-XX:+UseZGC"]),
                # The collector's log, as Kafka's own launcher keeps one (kafkaServer-gc.log).
                f"-Xlog:gc:file={logs / 'gc.log'}:time,uptime:filecount=4,filesize=10M",
                # Tests want a fast start; run and bench want the optimizing JIT.
                *(["-XX:TieredStopAtLevel=1"] if layout.profile == "test" else []),
                f"-Dkafka.logs.dir={logs}",
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
