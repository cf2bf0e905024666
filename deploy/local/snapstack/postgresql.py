"""FerretDB's PostgreSQL backend: a server of the stack's own (Debian's package, its data under the profile)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .layout import ROOT, Layout, local_secret
from .processes import StepFailed, log, postgres_user, run_step, wait_until


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
