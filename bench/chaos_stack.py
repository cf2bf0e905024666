"""The chaos profile's running stack: which process is which, how to kill it and bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.stack import load_script


class LocalStack:
    """The running stack of a profile: which process is which, how to kill it and bring it back."""

    def __init__(self, profile: str) -> None:
        self.mod = load_script("deploy/local/stack.py", "snapfix_local_stack")
        home = self.mod.STACK / profile
        nodes = int((home / "kafka-nodes").read_text())
        store = (home / "store").read_text().strip()
        self.layout = self.mod.Layout(profile, nodes, store=store)
        self.kills = 0

    @property
    def dir(self) -> Path:
        return Path(self.layout.dir)

    @property
    def edge_url(self) -> str:
        return str(self.mod.edge_url(self.layout))

    @property
    def ca(self) -> Path:
        return self.dir / "edge" / "tls" / "ca.pem"

    @property
    def mail(self) -> Path:
        return self.dir / "mail"

    def pid(self, name: str, home: Path) -> int:
        pid = self.mod.pid_alive(home / f"{name}.pid")
        if pid is None:
            raise RuntimeError(f"{name} is not running (no live pid in {home})")
        return int(pid)

    def kill(self, name: str, home: Path) -> int:
        """SIGKILL the process and its group (as a container dies), reaped, its pid file gone."""
        pid = self.pid(name, home)
        os.killpg(pid, signal.SIGKILL)
        self.kills += 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # ours when we restarted it earlier
                os.waitpid(pid, os.WNOHANG)
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                break
            if state == "Z":  # dead; its parent (not us) reaps it
                break
            time.sleep(0.05)
        (home / f"{name}.pid").unlink(missing_ok=True)
        return pid

    def apps_home(self) -> Path:
        return self.dir / "apps"

    def start_apps(self) -> None:
        """Starts whatever of the five processes (and the second gateway) is not running; waits for all."""
        self.mod.start_apps(self.layout)
        if self.mod.pid_alive(self.apps_home() / "gateway-2.pid") is None:
            self.mod.start_edge(self.layout)

    def kafka_leader(self, topic: str, partition: int) -> int:
        async def leader() -> int:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.layout.bootstrap)
            await consumer.start()
            try:
                await consumer._client.force_metadata_update()
                node = consumer._client.cluster.leader_for_partition(TopicPartition(topic, partition))
                return int(node) if node is not None and node >= 0 else 1
            finally:
                await consumer.stop()

        return asyncio.run(leader())
