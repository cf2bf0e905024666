"""`make demo`: seed a demo city (Bengaluru) into a running SnapFix, through its public API only.

About 5,000 reports over the last 90 days, spread across the city's wards (``demo_bengaluru_wards.csv``,
approximate centroids), in a city catalogue of categories with departments and SLAs. Staff of each
department acknowledge, start, resolve, close or reject a realistic share; citizens comment and vote;
a few hundred reports carry a photo drawn with Pillow and uploaded through the signed upload URL flow.
Old reports still open are past their SLA, so the map, the staff console and the analytics have
something to show.

The reports are a historical import: each is dated in the past (``reported_at``), which the API takes
from administrators only, so they come from a few demo administrator accounts ("importers").

Idempotent: the plan (who reports what, where, when, what happens next) is drawn from a fixed seed
and anchored at the demo's first run (the first importer account's creation time, read back from the
API). Every run first reads what exists (the importers' own reports, their statuses and votes) and
sends only what is missing; each request carries an ``Idempotency-Key`` derived from the plan.

Within the gateway's rate limits, never around them: each account is paced below the per-user limit
the gateway announces (``RateLimit-Policy``), sign-ins are paced too, and a 429 is waited out as its
``Retry-After`` says. A bounded number of requests is in flight.

    uv run --frozen python deploy/local/demo.py [--profile run | --url http://127.0.0.1:8000]
        [--reports 5000] [--days 90] [--seed 17] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

# The parts beside this file (snapdemo/): deploy/ holds scripts, not an installed package, and tests
# and benchmarks load this script from its file, so its folder is put on the import path here.
if (_folder := str(Path(__file__).resolve().parent)) not in sys.path:
    sys.path.insert(0, _folder)

from snapdemo.api import demo_password
from snapdemo.data import ADMIN_EMAIL, BBOX, CATEGORIES, DOMAIN, PATHS, DemoError
from snapdemo.photos import draw_photo
from snapdemo.plan import load_wards, make_plan
from snapdemo.run import Options, Summary
from snapdemo.seeding import seed

# What the tests that load this script use of it (tests/unit/test_demo_plan.py, tests/e2e/test_demo.py),
# and its command line.
__all__ = [
    "ADMIN_EMAIL",
    "BBOX",
    "CATEGORIES",
    "DOMAIN",
    "PATHS",
    "DemoError",
    "Options",
    "Summary",
    "demo_password",
    "draw_photo",
    "load_wards",
    "main",
    "make_plan",
    "options_from",
    "seed",
]

ROOT = Path(__file__).resolve().parents[2]


def print_summary(summary: Summary, console: Console) -> None:
    table = Table(title="SnapFix demo city: Bengaluru", show_header=False)
    rows = [
        (
            "Reports planned / already there / created now",
            f"{summary.reports_planned} / {summary.reports_found} / {summary.reports_created}",
        ),
        ("Photos uploaded now", str(summary.photos_uploaded)),
        ("Staff transitions now", str(summary.transitions)),
        ("Votes / comments now", f"{summary.votes} / {summary.comments}"),
        ("Categories / accounts created now", f"{summary.categories_created} / {summary.accounts_created}"),
        ("Statuses", ", ".join(f"{s} {n}" for s, n in summary.statuses.most_common())),
        ("Overdue (open past their SLA)", str(summary.overdue)),
        ("Requests (429s waited out)", f"{summary.requests} ({summary.waited_429})"),
        ("Commands given up on / reports failed", f"{summary.refused} / {summary.failed}"),
        ("Time", f"{summary.seconds:.0f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _stack_env(profile: str) -> dict[str, str]:
    path = ROOT / ".stack" / profile / "env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0] if value else ""
    return values


def options_from(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description="Seed a demo city (Bengaluru) into a running SnapFix through its public API. "
        "Example: uv run --frozen python deploy/local/demo.py --reports 5000"
    )
    parser.add_argument("--profile", default="run", help="the local stack whose gateway to seed (default: run)")
    parser.add_argument("--url", help="the gateway's URL (default: SNAPFIX_GATEWAY_URL of the profile's env)")
    parser.add_argument("--admin-email", default=os.environ.get("SNAPFIX_DEMO_ADMIN_EMAIL", ADMIN_EMAIL))
    parser.add_argument(
        "--admin-password-file",
        type=Path,
        help="default: .stack/<profile>/admin-password (or SNAPFIX_DEMO_ADMIN_PASSWORD)",
    )
    parser.add_argument("--reports", type=int, default=5000, help="how many reports (default 5000)")
    parser.add_argument("--days", type=int, default=90, help="spread over this many days back (default 90)")
    parser.add_argument("--photos", type=int, help="reports with a photo (default: 5%%, at most 250)")
    parser.add_argument("--seed", type=int, default=17, help="the plan's random seed (default 17)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at most (default 16)")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for commands to apply (default 300)")
    args = parser.parse_args(argv)
    if not 1 <= args.reports <= 50_000:
        parser.error("--reports must be between 1 and 50000")
    if not 1 <= args.days <= 360:
        parser.error("--days must be between 1 and 360 (the API takes report times up to a year back)")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    url = args.url or _stack_env(args.profile).get("SNAPFIX_GATEWAY_URL")
    if not url:
        parser.error(f"no gateway URL: start the stack (make run) or pass --url (.stack/{args.profile}/env has none)")
    password = os.environ.get("SNAPFIX_DEMO_ADMIN_PASSWORD")
    password_file = args.admin_password_file or ROOT / ".stack" / args.profile / "admin-password"
    if password is None:
        if not password_file.exists():
            parser.error(f"no administrator password: {password_file} does not exist (make run writes it)")
        password = password_file.read_text().strip()
    photos = args.photos if args.photos is not None else min(250, max(1, args.reports // 20))
    return Options(
        url=url,
        admin_email=args.admin_email,
        admin_password=password,
        reports=args.reports,
        days=args.days,
        seed=args.seed,
        photos=max(0, min(photos, args.reports)),
        concurrency=args.concurrency,
        wait_s=args.wait,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = options_from(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True)
    try:
        summary = asyncio.run(seed(options, console))
    except DemoError as exc:
        console.print(f"[red]demo: {exc}[/red]")
        return 1
    except httpx.HTTPError as exc:
        console.print(f"[red]demo: the gateway at {options.url} did not answer ({exc!r}); is the stack up?[/red]")
        return 1
    print_summary(summary, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
