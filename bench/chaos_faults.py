"""The faults, one at a time: a broker, each consumer, Redis, the store, a gateway; each one's window."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.chaos_ledger import Ledger
from bench.chaos_settings import (
    DOWN_S,
    PAUSE_S,
    SETTLE_S,
    log,
)
from bench.chaos_stack import LocalStack
from snapfix_shared.topics import Topic


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Faults:
    def __init__(self, stack: LocalStack, ledger: Ledger) -> None:
        self.stack, self.ledger = stack, ledger

    async def run(self, name: str) -> None:
        actions: dict[str, Callable[[], Awaitable[str]]] = {
            "broker": self.broker,
            "redis": self.redis,
            "store": self.store,
            "gateway": self.gateway,
        }
        start = time.monotonic()
        load_before = os.getloadavg()[0]
        try:
            detail = await (actions[name]() if name in actions else self.consumer(name))
            recovered: float | None = time.monotonic()
        except Exception as exc:  # a fault that did not recover is a finding, reported as such
            detail, recovered = f"did not recover: {exc!r}"[:500], None
        log(f"{name}: {detail}")
        await asyncio.sleep(SETTLE_S)
        self.ledger.windows.append(
            {
                "fault": name,
                "detail": detail,
                "start": start,
                "end": time.monotonic(),
                "recovery_s": round(recovered - start, 1) if recovered is not None else None,
                "load_average_1m": round(load_before, 2),
            }
        )

    async def broker(self) -> str:
        node = await asyncio.to_thread(self.stack.kafka_leader, Topic.ISSUES_COMMANDS, 0)
        home = self.stack.dir / f"kafka-{node}"
        pid = self.stack.kill("kafka", home)
        log(f"broker: SIGKILL kafka node {node} (pid {pid}, leader of {Topic.ISSUES_COMMANDS}[0])")
        await asyncio.sleep(DOWN_S)
        try:
            await asyncio.to_thread(self.stack.mod.start_kafka, self.stack.layout, node)
        except self.stack.mod.StepFailed:  # its 90 s passed: a loaded machine may need longer
            await self.until(lambda: bool(self.stack.mod.kafka_answers(self.stack.layout)), 180, f"kafka node {node}")
        return f"SIGKILL of kafka node {node} (leader of {Topic.ISSUES_COMMANDS}[0]), back after {DOWN_S:.0f} s"

    async def until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not await asyncio.to_thread(check):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not back within {timeout_s:.0f} s more")
            await asyncio.sleep(2)

    async def consumer(self, app: str) -> str:
        pid = self.stack.kill(app, self.stack.apps_home())
        log(f"{app}: SIGKILL (pid {pid}); restarting")
        await asyncio.to_thread(self.stack.start_apps)
        return f"SIGKILL of {app}, restarted at once"

    async def redis(self) -> str:
        """A persistent Redis's restart: SHUTDOWN SAVE writes everything it holds and exits in one step.

        (stack.py's stop, SAVE and then SIGTERM, loses what is written between the two: a crash's
        loss of its last writes, which is another fault than a restart.)"""
        home = self.stack.dir / "redis"
        pid = self.stack.pid("redis", home)
        cli = str(Path(self.stack.mod.redis_bin()).with_name("redis-cli"))
        log(f"redis: SHUTDOWN SAVE (pid {pid}), start again")
        await asyncio.to_thread(
            subprocess.run,
            [cli, "-p", str(self.stack.layout.redis_port), "shutdown", "save"],
            check=False,
            capture_output=True,
            timeout=30,
        )
        await self.until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 30, "redis exit")
        (home / "redis.pid").unlink(missing_ok=True)
        await asyncio.sleep(2)
        await asyncio.to_thread(self.stack.mod.start_redis, self.stack.layout)
        return "Redis restarted (SHUTDOWN SAVE, as a persistent Redis stops; down about 2 s)"

    async def store(self) -> str:
        pid = self.stack.pid("ferretdb", self.stack.dir / "ferretdb")
        os.kill(pid, signal.SIGSTOP)
        log(f"store: SIGSTOP FerretDB (pid {pid}) for {PAUSE_S:.0f} s")
        try:
            await asyncio.sleep(PAUSE_S)
        finally:
            os.kill(pid, signal.SIGCONT)
        return f"SIGSTOP of the Mongo-wire server for {PAUSE_S:.0f} s, then SIGCONT"

    async def gateway(self) -> str:
        pid = self.stack.kill("gateway", self.stack.apps_home())
        log(f"gateway: SIGKILL of gateway 1 of 2 (pid {pid})")
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(self.stack.start_apps)
        return f"SIGKILL of one of the two gateways behind nginx, restarted after {DOWN_S:.0f} s"
