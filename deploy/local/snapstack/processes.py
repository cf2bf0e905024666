"""The stack's processes: start one in its own session with its log and pid file, stop it, wait for it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class StepFailed(RuntimeError):
    """A named set-up step failed; the message says which and where to look."""


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


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except OSError:
        return False
