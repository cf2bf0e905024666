"""The MongoDB-wire server: FerretDB, built from the Go module proxy, on SQLite or the stack's PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

from .layout import ARTIFACTS, HERE, Layout, local_secret
from .postgresql import postgresql_url, start_postgresql
from .processes import StepFailed, log, pid_alive, port_open, run_step, spawn, stop, wait_until


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
