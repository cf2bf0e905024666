"""Cores and CPU time for the benchmarks: the load generator never shares a core with the servers.

Servers (the stack's, from its pid files, and the app processes a phase starts) are pinned
to ``SERVER_CORE`` while a phase measures, the load generator runs on ``LOAD_CORE``, and
the CPU each process spent is read from ``/proc`` around every run, so work done anywhere
on the box is reported per request.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK_DIR = Path(os.environ.get("SNAPFIX_STACK_DIR", ROOT / ".stack")) / os.environ.get(
    "SNAPFIX_STACK_PROFILE", "bench"
)
SERVER_CORE, LOAD_CORE = "0", "1"
ALL_CORES = "0,1"


def stack_pids(apps: dict[str, int] | None = None) -> dict[str, int]:
    """The stack's servers (from their pid files) and the app processes given, those alive."""
    pids = dict(apps or {})
    for pidfile in STACK_DIR.rglob("*.pid"):
        try:
            pids[pidfile.stem] = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return {name: pid for name, pid in pids.items() if Path(f"/proc/{pid}").exists()}


def pid_on(url: str) -> int:
    """The pid listening on the URL's port."""
    port = int(url.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(out.split("pid=", 1)[1].split(",", 1)[0])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads (children it waited for included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live children of a process (PostgreSQL's backends, forked per connection)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def tree_cpu_s(pid: int) -> float:
    """``cpu_s`` of a process plus its live children's (PostgreSQL's backends and autovacuum workers)."""
    total = cpu_s(pid)
    for child in children(pid):
        try:
            total += cpu_s(child)
        except OSError:  # gone meanwhile
            continue
    return total


def settle(
    pids: dict[str, int], *, idle_cpu_share: float = 0.05, window_s: float = 3.0, limit_s: float = 300.0
) -> float:
    """Wait until ``pids`` (and their live children) use under ``idle_cpu_share`` of a core over
    ``window_s``, at most ``limit_s``; returns the seconds waited. After a bulk load, the store's
    background work (PostgreSQL's autovacuum of the new rows) would otherwise be measured as the
    cost of whatever read runs beside it."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = sum(tree_cpu_s(pid) for pid in pids.values() if Path(f"/proc/{pid}").exists())
        time.sleep(window_s)
        after = sum(tree_cpu_s(pid) for pid in pids.values() if Path(f"/proc/{pid}").exists())
        if after - before < idle_cpu_share * window_s:
            break
    return time.monotonic() - started


def pin(pids: dict[str, int], core: str) -> None:
    """Every thread of each process, and of its live children: a PostgreSQL backend forked before
    the pinning would otherwise stay free to run on the load generator's core."""
    for pid in pids.values():
        for each in (pid, *children(pid)):
            subprocess.run(["taskset", "-a", "-p", "-c", core, str(each)], capture_output=True, check=False)


@contextmanager
def pinned(pids: dict[str, int]) -> Iterator[None]:
    """The servers on SERVER_CORE for the block, then free again."""
    pin(pids, SERVER_CORE)
    try:
        yield
    finally:
        pin(pids, ALL_CORES)


def core_ticks(core: str) -> tuple[int, int]:
    """(busy, all) clock ticks one core has spent since boot, from ``/proc/stat``."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(v) for v in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle, iowait
            return sum(ticks) - idle, sum(ticks)
    raise LookupError(f"no core {core} in /proc/stat")


class Cores:
    """How busy each core was between ``start`` and ``shares``: whether the load generator's core
    had room to spare, whatever else ran on it."""

    def __init__(self) -> None:
        self.start = {core: core_ticks(core) for core in (SERVER_CORE, LOAD_CORE)}

    def shares(self) -> dict[str, float]:
        shares = {}
        for name, core in (("server_core", SERVER_CORE), ("load_core", LOAD_CORE)):
            busy, total = core_ticks(core)
            busy0, total0 = self.start[core]
            shares[name] = round((busy - busy0) / max(total - total0, 1), 3)
        return shares


class Meter:
    """CPU seconds each process (with its live children) spent between ``start`` and ``per_request``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: tree_cpu_s(pid) for name, pid in pids.items()}

    def per_request(self, requests: int) -> dict[str, float]:
        spent = {name: tree_cpu_s(pid) - self.start[name] for name, pid in self.pids.items()}
        return {name: round(s * 1000 / max(requests, 1), 3) for name, s in spent.items()}
