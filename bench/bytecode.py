"""The Python bytecode one report costs the gateway, counted: a figure that does not drift.

CPU time per report on this shared 2-core VM moves by 10-20% from one hour to the next, and a
change of a few percent is lost in it (docs/operations.md, "Scale"). The number of bytecode
instructions CPython executes for a report does not move: this script counts them
(``sys.settrace`` with opcode events) for plain reports sent to the gateway's ASGI app in
process, against the running stack, and groups them by package (or, with ``--by function``,
by function). C code (pydantic-core, orjson, uvloop, the kernel) is not counted, so it is a
guide to where the Python work is, not a measure of time.

    uv run --frozen python -m bench.bytecode [--against REV] [--by package|function]

``--against REV`` counts a checkout of another revision (a git worktree) in the same run, one
after the other, as the baseline. The issues service is paused while reports are counted (its
events would set off the gateway's consumers). Work the process does on a timer or for its
consumers (Redis, Kafka's fetches, FastStream) runs more often per report while tracing slows
the reports down fiftyfold, so the figures leave those packages out of ``request_path``; they
are in ``all``. Results: bench/results/bytecode.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.cpu import pid_on
from bench.load import BENCH_LIMITS, BODY, RESULTS, ROOT, issues_and_gateway, sign_up
from tests.builders import http_scope

WARM, COUNTED, AT_ONCE = 600, 320, 32
# Work on a timer or for the process's consumers: counted in "all", left out of "request_path".
BACKGROUND = ("redis", "aiokafka", "faststream", "pymongo", "motor")


def _key(frame: FrameType, by: str) -> str:
    path = frame.f_code.co_filename
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
        unit = path.split("/", 1)[0]
    elif "/src/snapfix_" in path:  # this checkout's packages or the baseline's: named alike
        path = unit = "snapfix_" + path.split("/src/snapfix_", 1)[1]
    else:
        unit = path.rsplit("/", 1)[-1]
    return f"{path}:{frame.f_code.co_name}" if by == "function" else unit


def _reports(app: Any, token: str, statuses: collections.Counter[int]) -> Callable[[int], Awaitable[None]]:
    """``count`` plain reports sent to ``app``, AT_ONCE at a time, their statuses counted."""
    body = json.dumps(BODY).encode()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]

    async def report() -> None:
        received = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Any:
            if received:
                return received.pop()
            await asyncio.Event().wait()  # never disconnects
            raise AssertionError

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] += 1

        await app(http_scope("POST", "/v1/issues", list(headers), client=("127.0.0.1", 5000)), receive, send)

    async def reports(count: int) -> None:
        async def one_after_another(n: int) -> None:
            for _ in range(n):
                await report()

        await asyncio.gather(*(one_after_another(count // AT_ONCE) for _ in range(AT_ONCE)))

    return reports


async def _count(token: str, by: str) -> dict[str, Any]:
    from snapfix_gateway.app import create_app  # from the PYTHONPATH this child was given

    app = create_app()
    statuses: collections.Counter[int] = collections.Counter()
    reports = _reports(app, token, statuses)
    counts: collections.Counter[str] = collections.Counter()

    def tracer(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
        elif event == "opcode":
            counts[_key(frame, by)] += 1
        return tracer

    async with app.router.lifespan_context(app):
        await reports(WARM)
        statuses.clear()
        sys.settrace(tracer)
        try:
            await reports(COUNTED)
        finally:
            sys.settrace(None)
    if statuses != {202: COUNTED}:
        raise RuntimeError(f"not every counted report was accepted: {dict(statuses)}")
    per_report = {unit: round(n / COUNTED, 1) for unit, n in counts.most_common()}
    background = sum(n for unit, n in per_report.items() if unit.split("/", 1)[0].split(":", 1)[0] in BACKGROUND)
    return {
        "all": round(sum(per_report.values())),
        "request_path": round(sum(per_report.values()) - background),
        "per_report": per_report,
    }


def _child(by: str) -> None:
    import uvloop

    os.environ.update(BENCH_LIMITS)
    os.environ["SNAPFIX_LIVE_UPDATES"] = "false"
    result = uvloop.run(_count(os.environ["BENCH_TOKEN"], by))
    print(json.dumps(result))


def _counted(env: dict[str, str], token: str, by: str, source: Path | None) -> dict[str, Any]:
    child_env = {**env, "BENCH_TOKEN": token, "OTEL_TRACES_SAMPLER": "always_off"}
    if source is not None:  # the baseline's packages first: its gateway and shared code
        child_env["PYTHONPATH"] = f"{source / 'gateway' / 'src'}:{source / 'shared' / 'src'}"
    out = subprocess.run(
        [sys.executable, "-m", "bench.bytecode", "--child", "--by", by],
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--against", help="a revision to count in the same run, as the baseline")
    parser.add_argument("--by", choices=["package", "function"], default="package")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.by)
        return
    env = dict(os.environ)
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "reports": COUNTED}
    with issues_and_gateway(env) as (issues_url, gateway_url), tempfile.TemporaryDirectory() as scratch:
        env["SNAPFIX_ISSUES_URL"] = issues_url
        token = sign_up(gateway_url)
        issues = pid_on(issues_url)
        baseline = None
        if args.against:
            baseline = Path(scratch) / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.against], cwd=ROOT, check=True)
        os.kill(issues, signal.SIGSTOP)
        try:
            result["this"] = {"revision": revision.stdout.strip(), **_counted(env, token, args.by, None)}
            if baseline is not None:
                result["baseline"] = {"revision": args.against, **_counted(env, token, args.by, baseline)}
        finally:
            os.kill(issues, signal.SIGCONT)
            if baseline is not None:
                subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bytecode.json").write_text(json.dumps(result, indent=2) + "\n")
    for name in ("this", "baseline"):
        if name in result:
            counted = result[name]
            print(
                f"{name} ({counted['revision']}): {counted['all']} bytecodes a report, {counted['request_path']} on its path"
            )


if __name__ == "__main__":
    main()
