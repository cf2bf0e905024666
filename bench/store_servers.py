"""The three FerretDB servers `bench.store` compares: their layouts, start and stop, their processes' CPU and memory.

Each runs from the local stack's own code (``deploy/local/stack.py``) under
``.stack/store-bench/<profile>/<variant>/``, on a port of its own; CPU time and memory are
read from /proc for FerretDB and for PostgreSQL's postmaster with its backends.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.stack import load_script

# What runs side by side: FerretDB on SQLite, on the stack's PostgreSQL (with the GIN twins of its
# indexes, as `make run` has it), and on PostgreSQL without them (FerretDB's own indexes only).
BACKENDS = ("sqlite", "postgresql", "postgresql-plain")
TICKS = os.sysconf("SC_CLK_TCK")


stack = load_script("deploy/local/stack.py", "snapfix_local_stack")


@dataclass(frozen=True)
class BenchLayout(stack.Layout):  # type: ignore[misc,name-defined]
    """The profile's ports, each variant's FerretDB one port further up, and state of its own."""

    variant: str = "sqlite"

    @property
    def dir(self) -> Path:
        return stack.STACK / "store-bench" / self.profile / self.variant

    @property
    def mongo_port(self) -> int:
        return int(super().mongo_port) + BACKENDS.index(self.variant)

    @property
    def postgresql_port(self) -> int:
        return int(super().postgresql_port) + (1 if self.variant == "postgresql-plain" else 0)


# --------------------------------------------------------------------------- server processes


def proc_cpu_s(pid: int, children: bool = False) -> float:
    """utime + stime of a process (all its threads), and of its reaped children if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def memory_kib(pid: int, field: str) -> int:
    """VmRSS from status, or Pss from smaps_rollup (shared pages split among the processes that map them)."""
    source = "status" if field == "VmRSS" else "smaps_rollup"
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Servers:
    """The processes behind one backend: FerretDB, and PostgreSQL's postmaster with its backends."""

    def __init__(self, layout: BenchLayout) -> None:
        self.layout = layout
        self.ferretdb = int((layout.dir / "ferretdb" / "ferretdb.pid").read_text())
        self.postmaster: int | None = stack.postgresql_pid(layout) if layout.store == "postgresql" else None
        self.peak_mib: dict[str, float] = {}

    def cpu_s(self) -> dict[str, float]:
        cpu = {"ferretdb": proc_cpu_s(self.ferretdb)}
        if self.postmaster:
            total = proc_cpu_s(self.postmaster, children=True)  # backends that ended are reaped by it
            for child in children_of(self.postmaster):
                try:
                    total += proc_cpu_s(child)
                except OSError:
                    continue  # ended since listed: counted by the postmaster at its next reap
            cpu["postgresql"] = total
        return cpu

    def memory_mib(self) -> dict[str, float]:
        memory = {"ferretdb_rss": memory_kib(self.ferretdb, "VmRSS") / 1024}
        if self.postmaster:
            pids = [self.postmaster, *children_of(self.postmaster)]
            memory["postgresql_pss"] = sum(memory_kib(p, "Pss") for p in pids) / 1024
        return memory

    def sample(self) -> None:
        for name, mib in self.memory_mib().items():
            self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), mib)


@contextmanager
def sampling(servers: list[Servers], every_s: float = 0.5) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            for s in servers:
                s.sample()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def start_backend(profile: str, variant: str) -> BenchLayout:
    store = variant.split("-", maxsplit=1)[0]
    layout = BenchLayout(profile, kafka_nodes=1, store=store, gin_twins=variant == "postgresql", variant=variant)
    for port in (layout.mongo_port, *([layout.postgresql_port] if store == "postgresql" else [])):
        if stack.port_open(port):
            raise SystemExit(f"[store] port {port} is taken: stop the {profile} stack first (stack.py down)")
    shutil.rmtree(layout.dir, ignore_errors=True)  # every run starts from nothing
    stack.start_ferretdb(layout)
    return layout


def stop_backend(layout: BenchLayout) -> None:
    stack.stop("ferretdb", layout.dir / "ferretdb")
    stack.stop_postgresql(layout)
    shutil.rmtree(layout.dir, ignore_errors=True)  # 100,000 documents three times over
