"""Access to the real stack for integration and end-to-end tests: the native one or containers.

``make test`` starts the native stack (profile "test") and exports its settings; a test that
needs it and cannot reach it fails loudly, naming what is missing. It never skips.

Where a Docker engine answers and no native stack is named in the environment, the session's
stack is Kafka (KRaft), MongoDB and Redis in containers instead (testcontainers), started once
and removed at the end. ``SNAPFIX_TEST_STACK=native|containers|auto`` (default auto) decides
by hand; ``choose_stack`` is the rule, and the tests' stack fixture logs what it chose and why.
Tests that stop and start the stack's own servers (``test_degradation``) need the native one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from urllib.parse import urlparse

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from snapfix_shared.messages import Message
from snapfix_shared.messages.base import Command
from snapfix_shared.topics import Topic, ensure_topics
from snapfix_shared.viewer import process_tokens

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str, name: str) -> ModuleType:
    """A script of the repository (deploy/ holds scripts, not packages) as a module, loaded once.

    Registered in ``sys.modules`` under ``name`` before it runs: its dataclasses look their
    module up there.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ENV_FILE = ROOT / ".stack" / "test" / "env"
log = logging.getLogger(__name__)

StackKind = Literal["native", "containers"]
STACK_SETTING = "SNAPFIX_TEST_STACK"
# What the stack's processes are told (deploy/local/stack.py's env): its presence names a native stack.
NATIVE_NAMED_BY = "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"
# The containers: Confluent's Kafka image (the one testcontainers' KafkaContainer drives; KRaft,
# Kafka 3.6), and the MongoDB and Redis majors of docker-compose.yml.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
MONGO_IMAGE = "mongo:7"
REDIS_IMAGE = "redis:7"
CONTAINER_START_TIMEOUT_S = 180  # image pulls excluded; Kafka's first start on a loaded machine
DOCKER_PROBE_TIMEOUT_S = 2


@dataclass(frozen=True)
class Stack:
    kafka: str
    mongo_url: str
    redis_url: str
    kind: StackKind = "native"

    def connections(self) -> dict[str, str]:
        """The settings every in-process SnapFix service takes from this stack."""
        return {"kafka_bootstrap_servers": self.kafka, "mongo_url": self.mongo_url, "redis_url": self.redis_url}


@dataclass(frozen=True)
class StackChoice:
    kind: StackKind
    reason: str


def choose_stack(setting: str | None, *, native_named: bool, docker_answers: Callable[[], bool]) -> StackChoice:
    """Which stack a test session uses, and why.

    ``setting``: SNAPFIX_TEST_STACK (``native``, ``containers`` or ``auto``; unset or empty is auto).
    ``native_named``: the environment names a native stack (``make test`` exports the one it started).
    ``docker_answers``: the Docker engine probe, called only when auto has to ask it.
    """
    value = (setting or "auto").strip().lower()
    if value in {"native", "containers"}:
        kind: StackKind = "native" if value == "native" else "containers"
        return StackChoice(kind, f"{STACK_SETTING}={value}")
    if value != "auto":
        raise ValueError(f"{STACK_SETTING}={setting!r}: expected native, containers or auto")
    if native_named:
        return StackChoice("native", f"{NATIVE_NAMED_BY} names a native stack (as `make test` exports it)")
    if docker_answers():
        return StackChoice("containers", "a Docker engine answers and no native stack is named")
    return StackChoice("native", "no Docker engine answers")


def docker_engine_answers(timeout_s: float = DOCKER_PROBE_TIMEOUT_S) -> bool:
    """Whether a Docker engine answers a ping (DOCKER_HOST, or the default socket), within ``timeout_s``."""
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout_s)))
    except Exception as exc:  # no socket, no DOCKER_HOST, a bad one: no engine
        log.debug("no Docker engine: %r", exc)
        return False
    try:
        return bool(client.ping())
    except Exception as exc:
        log.debug("the Docker engine did not answer: %r", exc)
        return False
    finally:
        client.close()


def stack_choice() -> StackChoice:
    return choose_stack(
        os.environ.get(STACK_SETTING),
        native_named=bool(os.environ.get(NATIVE_NAMED_BY)),
        docker_answers=docker_engine_answers,
    )


@contextmanager
def container_stack() -> Iterator[Stack]:
    """Kafka (KRaft, one broker), MongoDB and Redis in containers, with SnapFix's topics created; removed after.

    The broker is set as deploy/local/stack.py sets its own: no topic is created by a client's
    request, and the internal topics fit one broker.
    """
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.redis import RedisContainer

    kafka = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_DEFAULT_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_MIN_INSYNC_REPLICAS", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE", "false")
    )
    mongo = MongoDbContainer(MONGO_IMAGE)
    redis = RedisContainer(REDIS_IMAGE)
    with ExitStack() as running:
        # One after the other (testcontainers makes its reaper container on the first start, unguarded
        # against a second thread); each stopped and removed at the end, whichever started.
        for container in (redis, mongo, kafka):
            running.callback(_stop_quietly, container)
        redis.start()
        mongo.start()
        kafka.start(timeout=CONTAINER_START_TIMEOUT_S)
        stack = Stack(
            kafka=kafka.get_bootstrap_server(),
            mongo_url=mongo.get_connection_url() + "/?authSource=admin",
            redis_url=f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(redis.port)}/0",
            kind="containers",
        )
        _wait_mongo(stack.mongo_url)
        with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever runs in this thread
            created = pool.submit(asyncio.run, ensure_topics(stack.kafka, timeout_s=60)).result(timeout=120)
        log.info("containers: Kafka %s (%d topics created), MongoDB, Redis", stack.kafka, len(created))
        yield stack


def _stop_quietly(container: Any) -> None:
    try:
        container.stop()
    except Exception as exc:  # never started, or gone already
        log.debug("stopping %s: %r", container, exc)


def _wait_mongo(url: str, timeout_s: float = 60) -> None:
    """The image restarts mongod once after creating its root user: wait until it answers as that user."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=int(timeout_s * 1000))
    try:
        client.admin.command("ping")
    finally:
        client.close()


def _env_file_values() -> dict[str, str]:
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = shlex.split(value)[0] if value else ""
    return values


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def connect_stack() -> Stack:
    file_values = _env_file_values()

    def setting(name: str) -> str:
        value = os.environ.get(name) or file_values.get(name)
        if not value:
            pytest.fail(
                f"{name} is not set and {ENV_FILE} does not exist: start the stack with `make test`", pytrace=False
            )
        return value

    stack = Stack(
        kafka=setting("SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"),
        mongo_url=setting("SNAPFIX_MONGO_URL"),
        redis_url=setting("SNAPFIX_REDIS_URL"),
    )
    endpoints = {
        "kafka": stack.kafka.split(",")[0],
        "mongo": urlparse(stack.mongo_url).netloc,
        "redis": urlparse(stack.redis_url).netloc,
    }
    for name, hostport in endpoints.items():
        host, _, port = hostport.rpartition(":")
        if not _reachable(host, int(port)):
            pytest.fail(
                f"{name} is not reachable at {hostport}: the test stack is down (`make test` starts it)", pytrace=False
            )
    return stack


def process_env(stack: Stack, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a SnapFix process started by a test: this stack, this port, and ``extra``."""
    return {
        **os.environ,
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": stack.redis_url,
        "SNAPFIX_HTTP_PORT": str(port),
        **(extra or {}),
    }


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: each socket stays bound until all are chosen (closed one by
    one, the kernel may hand the same port out twice, and two apps then race for it)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> bool:
    """Poll ``url/readyz`` until it answers 200 (True), the process exits or time runs out (False).

    Generous: on a loaded machine five Python processes importing at once take a while.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes,
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, value, key=key, headers=headers), 15)
    finally:
        await producer.stop()


async def produce_command(stack: Stack, command: Message) -> None:
    """Produce a command to its topic as the gateway does (JSON body, aggregate-id key, the actor's proof)."""
    if isinstance(command, Command) and command.actor_proof is None:
        command = process_tokens().sign_command(command)
    body, key = command.model_dump_json().encode(), command.partition_key().encode()
    await produce(stack.kafka, Topic.ISSUES_COMMANDS, body, key=key)


async def create_topic(bootstrap: str, topic: str, *, partitions: int) -> None:
    """A topic of the test's own (replication factor 1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await asyncio.wait_for(admin.start(), 30)
    try:
        await asyncio.wait_for(
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]), 30
        )
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str,
    topic: str,
    match: Callable[[ConsumerRecord[Any, Any]], bool],
    *,
    count: int = 1,
    timeout_s: float = 20.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Records of ``topic`` (from the beginning) that ``match``; waits for ``count`` of them or the timeout.

    Records without a value (tombstones, and the null records the poison tests publish on the
    same stack) are never offered to ``match``.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[ConsumerRecord[Any, Any]] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(found) < count:
            batches = await consumer.getmany(timeout_ms=300, max_records=2000)
            found.extend(r for records in batches.values() for r in records if r.value is not None and match(r))
    finally:
        await consumer.stop()
    return found


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def wait_caught_up(bootstrap: str, group: str, topic: str, *, timeout_s: float = 30.0) -> None:
    """Wait until ``group`` has committed every record of ``topic`` (its lag is zero)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        deadline = time.monotonic() + timeout_s
        lag: dict[TopicPartition, int] = {}
        while time.monotonic() < deadline:
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            lag = {
                tp: end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                for tp, end in ends.items()
            }
            if not any(lag.values()):
                return
            await asyncio.sleep(0.3)
        pytest.fail(f"group {group} still lags on {topic}: { {str(k): v for k, v in lag.items() if v} }")
    finally:
        await consumer.stop()
        await admin.close()


async def start_groups_at_end(bootstrap: str, groups: dict[str, str]) -> None:
    """Commit each ``{group: topic}`` at the topic's current end: a process started with these
    groups sees only what is published from now on, not the whole history of the stack."""
    for group, topic in groups.items():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = await consumer.end_offsets(partitions)
            consumer.assign(partitions)
            await consumer.commit(dict(ends.items()))
        finally:
            await consumer.stop()
