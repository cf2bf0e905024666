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
import base64
import csv
import hashlib
import hmac
import io
import math
import os
import random
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from PIL import Image, ImageDraw, ImageFilter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
WARDS_FILE = Path(__file__).with_name("demo_bengaluru_wards.csv")
# west, south, east, north: every demo report lies inside (tests check it).
BBOX = (77.40, 12.80, 77.85, 13.20)
DOMAIN = "demo.snapfix.example"
ADMIN_EMAIL = "admin@snapfix.example"  # what deploy/local/stack.py gives `make run`
KEY_PREFIX = "snapfix-demo"
# How long a command usually takes to be applied after its 202 on a busy machine: the next command
# about the same issue waits that long first (else it is refused for now: 404 or 409, and retried).
APPLY_S = 5.0

# The city's catalogue. A code the catalogue has already is used as it is (an administrator's
# edits are never overwritten); the others are created (PUT /v1/categories/{code}).
CATEGORIES: list[dict[str, Any]] = [
    {
        "code": "pothole",
        "name": "Pothole",
        "group": "Roads",
        "department": "roads",
        "sla_hours": 72,
        "weight": 22,
        "titles": [
            "Deep pothole on the main road",
            "Potholes after the rain",
            "Crater near the bus stop",
            "Pothole at the junction",
            "Road caved in near the culvert",
        ],
    },
    {
        "code": "garbage",
        "name": "Garbage not collected",
        "group": "Sanitation",
        "department": "sanitation",
        "sla_hours": 48,
        "weight": 20,
        "titles": [
            "Garbage not collected for days",
            "Black spot: garbage dumped on the corner",
            "Overflowing bins near the market",
            "Waste burning on the roadside",
            "Pourakarmika did not come",
        ],
    },
    {
        "code": "streetlight",
        "name": "Streetlight not working",
        "group": "Roads",
        "department": "lighting",
        "sla_hours": 120,
        "weight": 12,
        "titles": [
            "Streetlight off for a week",
            "Whole stretch dark at night",
            "Flickering streetlight",
            "Streetlight pole leaning",
            "Lights on during the day",
        ],
    },
    {
        "code": "blocked_drain",
        "name": "Blocked storm water drain",
        "group": "Drains",
        "department": "storm_drains",
        "sla_hours": 72,
        "weight": 9,
        "titles": [
            "Storm water drain blocked",
            "Drain overflowing onto the road",
            "Silt piled next to the drain",
            "Open drain without slab",
            "Water logging after every rain",
        ],
    },
    {
        "code": "water_leak",
        "name": "Water pipe leak",
        "group": "Water",
        "department": "water",
        "sla_hours": 12,
        "weight": 8,
        "titles": [
            "Drinking water pipe leaking",
            "Water gushing from a valve",
            "Leak wasting water since morning",
            "Burst pipe under the footpath",
        ],
    },
    {
        "code": "sidewalk",
        "name": "Broken footpath",
        "group": "Roads",
        "department": "roads",
        "sla_hours": 240,
        "weight": 7,
        "titles": [
            "Footpath slabs broken",
            "Footpath encroached by shops",
            "Missing slab, open gap in footpath",
            "Footpath dug up and left",
        ],
    },
    {
        "code": "stray_animals",
        "name": "Stray animals",
        "group": "Animals",
        "department": "animal_care",
        "sla_hours": 168,
        "weight": 6,
        "titles": [
            "Pack of stray dogs chasing bikes",
            "Injured stray dog needs help",
            "Cattle on the main road",
            "Stray dogs near the school gate",
        ],
    },
    {
        "code": "sewage_overflow",
        "name": "Sewage overflow",
        "group": "Water",
        "department": "water",
        "sla_hours": 24,
        "weight": 5,
        "titles": [
            "Manhole overflowing",
            "Sewage on the road",
            "Sewage mixing with drinking water line",
            "Bad smell from open manhole",
        ],
    },
    {
        "code": "tree",
        "name": "Fallen or dangerous tree",
        "group": "Parks",
        "department": "parks",
        "sla_hours": 168,
        "weight": 5,
        "titles": [
            "Tree fell after the storm",
            "Dangerous branch over the road",
            "Tree blocking the footpath",
            "Dry tree may fall",
        ],
    },
    {
        "code": "mosquito_breeding",
        "name": "Stagnant water and mosquitoes",
        "group": "Health",
        "department": "health",
        "sla_hours": 96,
        "weight": 4,
        "titles": [
            "Stagnant water in the vacant plot",
            "Mosquito breeding in open tank",
            "Dengue cases, fogging needed",
        ],
    },
    {
        "code": "traffic_signal",
        "name": "Traffic signal",
        "group": "Roads",
        "department": "traffic",
        "sla_hours": 24,
        "weight": 2,
        "titles": ["Signal not working at the junction", "Signal stuck on red", "Pedestrian signal broken"],
    },
]
DESCRIPTIONS = [
    "Reported by residents of the area several times.",
    "Two-wheelers are skidding here, especially at night.",
    "Children walk this way to school every day.",
    "It has been like this for more than a week.",
    "Please attend to this before the monsoon gets worse.",
    "Senior citizens find it very difficult to pass.",
    "Near the temple, very busy in the evening.",
    "",
]
STREETS = [
    "1st Main",
    "2nd Cross",
    "4th Block",
    "80 Feet Road",
    "100 Feet Road",
    "Main Road",
    "5th Cross",
    "Service Road",
    "12th Main",
    "Outer Ring Road",
    "near the bus stop",
    "opposite the park",
]
CITIZEN_COMMENTS = [
    "Same problem near my house too.",
    "Still not fixed as of today.",
    "Thank you for looking into this!",
    "This is dangerous, please prioritise.",
    "Saw a crew here yesterday, but nothing changed.",
    "Happening again after the rain.",
    "Residents' association has also written about this.",
    "Fixed now, thanks to the team.",
    "My scooter almost slipped here this morning.",
]
STAFF_COMMENTS = [
    "Crew has been informed; inspection this week.",
    "Work order raised with the contractor.",
    "Awaiting material from the stores.",
    "Site inspected, work scheduled.",
]
NOTES = {
    "acknowledged": ["Forwarded to the ward engineer.", "Noted; inspection scheduled.", ""],
    "in_progress": ["Crew on site.", "Work started.", "Contractor assigned."],
    "resolved": ["Repaired.", "Cleared by the crew.", "Fixed; please reopen if it recurs."],
    "closed": ["Verified on site.", "Closed after verification.", ""],
}
REJECT_REASONS = [
    "Private property: not maintained by the city.",
    "Duplicate of an earlier complaint in the same spot.",
    "Under the metro works' contractor (BMRCL), forwarded to them.",
    "Could not locate the problem at this place.",
]
# The paths to each final status, one staff transition per step (open -> path[0] -> path[1] ...),
# as the lifecycle allows them; one is picked per report.
PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "open": ((),),
    "acknowledged": (("acknowledged",),),
    "in_progress": (("in_progress",), ("acknowledged", "in_progress")),
    "resolved": (("resolved",), ("in_progress", "resolved")),
    "closed": (("resolved", "closed"),),
    "rejected": (("rejected",),),
}


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ward:
    name: str
    lat: float
    lon: float
    weight: float


def load_wards(path: Path = WARDS_FILE) -> list[Ward]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [
        Ward(row["ward"], float(row["lat"]), float(row["lon"]), float(row["weight"])) for row in csv.DictReader(lines)
    ]


@dataclass(frozen=True)
class PlannedReport:
    index: int
    importer: int
    category: str
    department: str
    title: str
    description: str
    ward: str
    address: str
    lat: float
    lon: float
    reported_at: datetime
    attributes: dict[str, Any]
    path: tuple[str, ...]
    staff: int  # which of the department's demo staff handles it
    photo: bool
    voters: tuple[int, ...]  # demo citizens
    comments: tuple[tuple[str, int, str], ...]  # ("citizen" | "staff", who, body)

    @property
    def target(self) -> str:
        return self.path[-1] if self.path else "open"

    @property
    def key(self) -> str:
        """How a stored report is recognised: its report time, to the second (unique in the plan)."""
        return self.reported_at.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class Plan:
    reports: list[PlannedReport]
    importers: int
    citizens: int
    staff: dict[str, int]  # department -> how many demo staff


def accounts_for(reports: int) -> tuple[int, int]:
    """Importers and citizens: enough that no account goes past the per-user rate limit for long."""
    return max(1, min(25, math.ceil(reports / 250))), max(3, min(20, math.ceil(reports / 250)))


def make_plan(
    *,
    seed: int,
    reports: int,
    days: int,
    anchor: datetime,
    catalogue: dict[str, dict[str, Any]],
    wards: Sequence[Ward],
    photos: int,
) -> Plan:
    """The whole demo, drawn from ``seed``: the same arguments always give the same plan."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible plan, not a secret
    specs = [c for c in CATEGORIES if c["code"] in catalogue]
    if not specs:
        raise DemoError("none of the demo's categories is in the catalogue")
    importers, citizens = accounts_for(reports)
    photo_share = min(1.0, photos / reports) if reports else 0.0
    used: set[int] = set()
    drafts: list[dict[str, Any]] = []
    for index in range(reports):
        ward = rng.choices(wards, weights=[w.weight for w in wards])[0]
        spec = rng.choices(specs, weights=[c["weight"] for c in specs])[0]
        live = catalogue[spec["code"]]
        while True:  # distinct seconds: the report time is the key a stored report is known by
            age_s = rng.randint(120, days * 86_400)
            if age_s not in used:
                used.add(age_s)
                break
        age_days = age_s / 86_400
        lat = min(max(rng.gauss(ward.lat, 0.006), BBOX[1] + 0.001), BBOX[3] - 0.001)
        lon = min(max(rng.gauss(ward.lon, 0.006), BBOX[0] + 0.001), BBOX[2] - 0.001)
        status = _final_status(rng, age_days, int(live["sla_hours"]))
        voters = _voters(rng, citizens)
        drafts.append(
            {
                "index": index,
                "importer": index % importers,
                "category": spec["code"],
                "department": live["department"],
                "title": rng.choice(spec["titles"]),
                "description": rng.choice(DESCRIPTIONS),
                "ward": ward.name,
                "address": f"{rng.choice(STREETS)}, {ward.name}, Bengaluru",
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "reported_at": anchor - timedelta(seconds=age_s),
                "attributes": _attributes(rng, live),
                "path": rng.choice(PATHS[status]),
                "photo": rng.random() < photo_share,
                "voters": voters,
                "comments": _comments(rng, citizens, status),
            }
        )
    steps = Counter(d["department"] for d in drafts for _ in d["path"])
    staff = {dept: max(1, min(8, math.ceil(steps.get(dept, 0) / 300))) for dept in {d["department"] for d in drafts}}
    planned = [PlannedReport(**d, staff=d["index"] % staff[d["department"]]) for d in drafts]
    return Plan(planned, importers, citizens, staff)


def _final_status(rng: random.Random, age_days: float, sla_hours: int) -> str:
    """Older reports are more often dealt with; recent ones mostly open. Some stay open past their SLA."""
    done = min(1.0, age_days / 30)  # how far along a typical report of this age is
    weights = {
        "open": 0.55 - 0.45 * done,
        "acknowledged": 0.22 - 0.16 * done,
        "in_progress": 0.13 - 0.07 * done,
        "resolved": 0.06 + 0.26 * done,
        "closed": 0.01 + 0.31 * done if age_days > 1 else 0.0,
        "rejected": 0.03 + 0.05 * done,
    }
    if age_days * 24 < sla_hours / 4:  # too fresh for much to have happened
        weights = {"open": 0.8, "acknowledged": 0.15, "in_progress": 0.05}
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _voters(rng: random.Random, citizens: int) -> tuple[int, ...]:
    roll = rng.random()
    count = 0 if roll < 0.78 else 1 if roll < 0.9 else 2 if roll < 0.96 else rng.randint(3, min(8, citizens))
    return tuple(sorted(rng.sample(range(citizens), min(count, citizens))))


def _comments(rng: random.Random, citizens: int, status: str) -> tuple[tuple[str, int, str], ...]:
    if rng.random() > 0.16:
        return ()
    out: list[tuple[str, int, str]] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        if status != "open" and rng.random() < 0.3:
            out.append(("staff", 0, rng.choice(STAFF_COMMENTS)))
        else:
            out.append(("citizen", rng.randrange(citizens), rng.choice(CITIZEN_COMMENTS)))
    return tuple(out)


def _attributes(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    """Values for the category's required attributes (whatever the catalogue asks for)."""
    values: dict[str, Any] = {}
    for attribute in spec.get("attributes", []):
        if not attribute.get("required"):
            continue
        match attribute["datatype"]:
            case "singlevaluelist":
                values[attribute["code"]] = rng.choice(attribute["values"])["key"]
            case "boolean":
                values[attribute["code"]] = rng.random() < 0.1
            case "number":
                values[attribute["code"]] = rng.randint(1, 30)
            case _:
                values[attribute["code"]] = "Reported during the demo import"
    return values


# -- photos ---------------------------------------------------------------------------------

_PALETTES = {
    "pothole": ((96, 96, 100), (40, 36, 34)),
    "garbage": ((150, 130, 100), (60, 120, 60)),
    "streetlight": ((20, 24, 48), (250, 220, 120)),
    "blocked_drain": ((90, 80, 60), (60, 70, 90)),
    "water_leak": ((110, 110, 110), (90, 150, 220)),
    "sewage_overflow": ((100, 95, 80), (80, 70, 40)),
    "tree": ((120, 170, 230), (40, 110, 40)),
}


def draw_photo(report: PlannedReport) -> bytes:
    """A JPEG that looks like a phone photo of the problem from afar: ground, sky, the thing itself, noise."""
    rng = random.Random(f"photo-{report.index}")  # noqa: S311 - reproducible pictures
    ground, thing = _PALETTES.get(report.category, ((130, 120, 110), (200, 60, 40)))
    width, height = 640, 480
    image = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(160, 260)
    haze = rng.randint(0, 40)
    draw.rectangle((0, 0, width, horizon), fill=(120 + haze, 170 + haze // 2, 225))
    for _ in range(rng.randint(2, 5)):  # buildings on the skyline
        x = rng.randint(0, width - 120)
        draw.rectangle((x, horizon - rng.randint(40, 140), x + rng.randint(60, 160), horizon), fill=(170, 150, 130))
    cx, cy = rng.randint(250, 550), rng.randint(horizon + 120, height - 100)
    for scale in (1.0, 0.7, 0.45):
        rx, ry = int(rng.randint(120, 190) * scale), int(rng.randint(50, 90) * scale)
        shade = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in thing)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=shade)
    draw.text((16, height - 28), f"{report.ward} - {report.reported_at:%d %b %Y}", fill=(255, 255, 255))
    grain = rng.randbytes(width * height // 4)  # seeded: the same picture on every run
    noise = Image.frombytes("L", (width // 2, height // 2), grain).convert("RGB").resize((width, height))
    image = Image.blend(image, noise, 0.08).filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# -- the API --------------------------------------------------------------------------------


@dataclass
class Account:
    email: str
    display_name: str
    role: str
    departments: tuple[str, ...] = ()
    password: str = ""
    token: str | None = None
    user_id: str | None = None
    created_at: datetime | None = None


def demo_password(admin_password: str, email: str) -> str:
    """A demo account's password: derived from the administrator's (never written down, never public)."""
    digest = hmac.new(admin_password.encode(), f"{KEY_PREFIX}:{email}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:28]


class Api:
    """The gateway, as many demo accounts at once: paced per account, bounded in flight, 429s waited out."""

    def __init__(self, base_url: str, *, concurrency: int, timeout_s: float = 30.0) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.inflight = asyncio.Semaphore(concurrency)
        self.window = MovingWindowRateLimiter(MemoryStorage())
        # 90% of what the gateway announces (RateLimit-Policy), 90/minute until it has said.
        self.per_user: RateLimitItem = RateLimitItemPerMinute(90)
        self.sign_ins: RateLimitItem = RateLimitItemPerMinute(9)
        self.sign_in_lock: dict[str, asyncio.Lock] = {}
        self.pace_locks: dict[str, asyncio.Lock] = {}
        self.requests = 0
        self.waited_429 = 0
        # "POST /v1/issues/{id}/vote 202 replayed": every answer, for the summary (and for debugging).
        self.answers: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _pace(self, item: RateLimitItem, key: str) -> None:
        """Wait for a slot in ``key``'s window; waiters queue (first come, first served) instead of all polling."""
        async with self.pace_locks.setdefault(key, asyncio.Lock()):
            while not await self.window.hit(item, key):
                stats = await self.window.get_window_stats(item, key)
                await asyncio.sleep(max(0.05, stats.reset_time - time.time()))

    def _learn(self, response: httpx.Response, *, sign_in: bool = False) -> None:
        """Pace by the policy the gateway names (for a sign-in: the closer of its per-address limits)."""
        policy = response.headers.get("ratelimit-policy", "")
        if match := re.match(r'"(\w+)";q=(\d+);w=(\d+)', policy):
            name, quota, window = match[1], int(match[2]), int(match[3])
            item = parse(f"{max(1, int(quota * 0.9))}/{window} second")
            current = self.sign_ins if sign_in else self.per_user
            if (name == "user" or sign_in) and (current.amount, current.get_expiry()) != (item.amount, window):
                if sign_in:
                    self.sign_ins = item
                else:
                    self.per_user = item

    async def send(
        self,
        method: str,
        path: str,
        *,
        account: Account | None,
        key: str | None = None,
        attempts: int = 8,
        pace: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, retried on 429/503 (as Retry-After says) and on transport errors."""
        for attempt in range(attempts):
            headers = dict(kwargs.pop("headers", None) or {})
            if account is not None:
                if account.token is None:
                    await self.sign_in(account)
                headers["authorization"] = f"Bearer {account.token}"
                if pace:
                    await self._pace(self.per_user, account.email)
            if key is not None:
                headers["idempotency-key"] = key
            try:
                async with self.inflight:
                    self.requests += 1
                    response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
                continue
            finally:
                kwargs["headers"] = headers
            self._learn(response)
            replayed = " replayed" if response.headers.get("idempotent-replayed") == "true" else ""
            kind = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/{id}", httpx.URL(path).path)
            self.answers[f"{method} {kind} {response.status_code}{replayed}"] += 1
            if response.status_code in {429, 503}:
                self.waited_429 += response.status_code == 429
                await asyncio.sleep(_retry_after(response, attempt))
                continue
            if response.status_code == 401 and account is not None and attempt < attempts - 1:
                account.token = None  # expired (access tokens are short-lived): sign in again
                continue
            return response
        raise DemoError(f"{method} {path}: no answer after {attempts} attempts")

    async def sign_in(self, account: Account) -> None:
        lock = self.sign_in_lock.setdefault(account.email, asyncio.Lock())
        async with lock:
            if account.token is not None:
                return
            form = {"grant_type": "password", "username": account.email, "password": account.password}
            for attempt in range(12):
                await self._pace(self.sign_ins, "sign-in")
                async with self.inflight:
                    self.requests += 1
                    response = await self.http.post("/v1/auth/token", data=form)
                self._learn(response, sign_in=True)
                if response.status_code in {429, 503}:
                    self.waited_429 += response.status_code == 429
                    await asyncio.sleep(_retry_after(response, attempt))
                    continue
                if response.status_code != 200:
                    hint = " (demo passwords derive from the administrator's: has it changed?)"
                    raise DemoError(
                        f"{account.email} cannot sign in: {response.status_code}{hint} {response.text[:300]}"
                    )
                account.token = response.json()["access_token"]
                return
            raise DemoError(f"{account.email} could not sign in (rate limited throughout)")


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) + 0.1 if value.isdigit() else min(10.0, 0.5 * 2**attempt)


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        request = response.request
        raise DemoError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
    return response


# -- the run --------------------------------------------------------------------------------


@dataclass
class Options:
    url: str
    admin_email: str
    admin_password: str
    reports: int = 5000
    days: int = 90
    seed: int = 17
    photos: int = 250
    concurrency: int = 16
    wait_s: float = 300.0
    quiet: bool = False


@dataclass
class Summary:
    reports_planned: int = 0
    reports_created: int = 0
    reports_found: int = 0
    photos_uploaded: int = 0
    transitions: int = 0
    votes: int = 0
    comments: int = 0
    categories_created: int = 0
    accounts_created: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    # What the plan holds (whatever this run had to create): the state a finished demo shows.
    planned_statuses: Counter[str] = field(default_factory=Counter)
    planned_photos: int = 0
    planned_votes: int = 0
    planned_comments: int = 0
    overdue: int = 0
    requests: int = 0
    waited_429: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    failed: int = 0  # reports whose chain stopped on an error (shown as it happened)
    refused: int = 0  # commands their issue's state refused for longer than wait_s
    seconds: float = 0.0
    issue_ids: list[str] = field(default_factory=list)


# The demo's importers, citizens, and staff by department.
People = tuple[Sequence["Account"], Sequence["Account"], dict[str, list["Account"]]]


class Demo:
    def __init__(self, options: Options, api: Api, progress: Progress) -> None:
        self.o, self.api, self.progress = options, api, progress
        self.summary = Summary()
        self.admin = Account(options.admin_email, "Administrator", "admin", password=options.admin_password)
        self.catalogue: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, Any] = {}

    def account(self, local: str, name: str, role: str, departments: Iterable[str] = ()) -> Account:
        email = f"{local}@{DOMAIN}"
        return Account(email, name, role, tuple(departments), password=demo_password(self.o.admin_password, email))

    # -- set-up ---------------------------------------------------------------------------

    async def ensure_catalogue(self) -> None:
        live = {c["code"]: c for c in await self._categories()}
        missing = [c for c in CATEGORIES if c["code"] not in live]
        for spec in missing:
            body = {k: spec[k] for k in ("name", "group", "department", "sla_hours")}
            body["description"] = f"{spec['name']} (created by the SnapFix demo)"
            response = await self.api.send("PUT", f"/v1/categories/{spec['code']}", account=self.admin, json=body)
            _check(response, 200, 201)
            self.summary.categories_created += response.status_code == 201
        self.catalogue = {c["code"]: c for c in await self._categories()} if missing else live

    async def _categories(self) -> list[dict[str, Any]]:
        response = _check(await self.api.send("GET", "/v1/categories", account=self.admin), 200)
        return list(response.json()["items"])

    async def ensure_accounts(self, accounts: Sequence[Account]) -> None:
        existing: set[str] = set()
        cursor: str | None = None
        while True:
            params = {"q": "demo-", "limit": "100", **({"cursor": cursor} if cursor else {})}
            page = _check(await self.api.send("GET", "/v1/admin/users", account=self.admin, params=params), 200).json()
            existing |= {item["email"] for item in page["items"]}
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for account in accounts:
            if account.email in existing:
                continue
            body = {
                "email": account.email,
                "password": account.password,
                "display_name": account.display_name,
                "role": account.role,
                "departments": list(account.departments),
            }
            for attempt in range(20):  # new departments reach the gateway's catalogue copy moments later
                response = await self.api.send("POST", "/v1/admin/users", account=self.admin, json=body)
                if response.status_code != 422 or attempt == 19:
                    break
                await asyncio.sleep(0.5)
            _check(response, 201, 409)
            self.summary.accounts_created += response.status_code == 201

    # -- reading what exists --------------------------------------------------------------

    async def list_reports(self, importer: Account) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = _check(await self.api.send("GET", "/v1/me/issues", account=importer, params=params), 200).json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def stored(self, plan: Plan, importers: Sequence[Account]) -> dict[int, dict[str, Any]]:
        """The plan's reports that exist, by plan index (matched on the importer and the report time)."""
        lists = await asyncio.gather(*(self.list_reports(a) for a in importers))
        by_key = [{_second(item["created_at"]): item for item in items} for items in lists]
        return {r.index: by_key[r.importer][r.key] for r in plan.reports if r.key in by_key[r.importer]}

    # -- writing --------------------------------------------------------------------------

    async def report(self, planned: PlannedReport, importer: Account) -> str:
        media_ids: list[str] = []
        if planned.photo:
            media_ids.append(await self.upload(planned, importer))
        body = {
            "title": planned.title,
            "description": planned.description,
            "category": planned.category,
            "lat": planned.lat,
            "lon": planned.lon,
            "address": planned.address,
            "attributes": planned.attributes,
            "media_ids": media_ids,
            "reported_at": planned.reported_at.isoformat(),
        }
        key = f"{KEY_PREFIX}-{self.o.seed}-report-{planned.index}-{len(media_ids)}"
        response = await self.api.send("POST", "/v1/issues", account=importer, key=key, json=body)
        _check(response, 202)
        self.summary.reports_created += response.headers.get("idempotent-replayed") != "true"
        return str(response.json()["id"])

    async def upload(self, planned: PlannedReport, importer: Account) -> str:
        photo = await asyncio.to_thread(draw_photo, planned)
        ticket = await self.api.send(
            "POST", "/v1/media", account=importer, json={"content_type": "image/jpeg", "size": len(photo)}
        )
        ticket_body = _check(ticket, 201).json()
        # The URL is absolute (the gateway's public address): only its path and query are used here.
        url = httpx.URL(ticket_body["upload_url"])
        target = url.raw_path.decode()
        response = await self.api.send(
            "PUT", target, account=importer, content=photo, headers={"content-type": "application/octet-stream"}
        )
        _check(response, 202, 409)  # 409: uploaded already (a retry whose first try's answer was lost)
        self.summary.photos_uploaded += 1
        return str(ticket_body["id"])

    async def command(self, path: str, account: Account, key: str, body: dict[str, Any] | None = None) -> bool | None:
        """POST a command about an issue: True when accepted now, False when accepted before (a replay
        of its 202), None when its issue's state still refused it after ``wait_s``.

        A 404 (the report is not applied yet) or a 409 (the previous step is not applied yet) is a
        definite answer the gateway keeps for its key: the retry, moments later, carries a new key
        (the plan's, numbered), as any client does after a definite answer. A refusal replayed from
        an earlier run is no news about now: the next number is tried at once.
        """
        deadline = time.monotonic() + self.o.wait_s
        attempt = 0
        while True:
            numbered = key if attempt == 0 else f"{key}-retry{attempt}"
            attempt += 1
            response = await self.api.send("POST", path, account=account, key=numbered, json=body)
            replayed = response.headers.get("idempotent-replayed") == "true"
            if response.status_code == 202:
                return not replayed
            if response.status_code not in {404, 409}:
                _check(response, 202)
            if replayed:
                continue
            if time.monotonic() > deadline:
                self.summary.refused += 1
                detail = response.json().get("detail", response.text)
                self.progress.console.print(f"[yellow]demo: {path} still refused after {self.o.wait_s:.0f} s: {detail}")
                return None
            await asyncio.sleep(min(10.0, 2.0 * attempt))

    async def transition(self, issue_id: str, planned: PlannedReport, current: str, to: str, staff: Account) -> bool:
        """Move the issue one step; False when it could not (the later steps are then left out)."""
        rng = random.Random(f"note-{planned.index}-{to}")  # noqa: S311 - reproducible notes
        body: dict[str, Any] = {"to": to, "note": rng.choice(NOTES.get(to, [""]))}
        if to == "rejected":
            body["reason"] = rng.choice(REJECT_REASONS)
        key = f"{KEY_PREFIX}-{self.o.seed}-status-{planned.index}-{current}-{to}"
        accepted = await self.command(f"/v1/issues/{issue_id}/transitions", staff, key, body)
        self.summary.transitions += accepted is True
        return accepted is not None

    async def vote(self, issue_id: str, planned: PlannedReport, voter: int, citizen: Account) -> None:
        key = f"{KEY_PREFIX}-{self.o.seed}-vote-{planned.index}-{voter}"
        accepted = await self.command(f"/v1/issues/{issue_id}/vote", citizen, key)
        self.summary.votes += accepted is True  # counted after the await: concurrent chains add up

    async def comment(self, issue_id: str, planned: PlannedReport, number: int, author: Account, text: str) -> None:
        key = f"{KEY_PREFIX}-{self.o.seed}-comment-{planned.index}-{number}"
        accepted = await self.command(f"/v1/issues/{issue_id}/comments", author, key, {"body": text})
        self.summary.comments += accepted is True

    # -- the whole ------------------------------------------------------------------------

    async def run(self) -> Summary:
        o, started = self.o, time.monotonic()
        setup = self.progress.add_task("City catalogue and accounts", total=3)
        await self.ensure_catalogue()
        self.progress.advance(setup)
        importers_n, citizens_n = accounts_for(o.reports)
        importers = [self.account(f"demo-importer-{i + 1:02d}", f"Import {i + 1}", "admin") for i in range(importers_n)]
        # The first importer's creation time anchors the plan (a rerun on a later day finds the same plan).
        await self.ensure_accounts(importers[:1])
        me = _check(await self.api.send("GET", "/v1/me", account=importers[0]), 200).json()
        anchor = datetime.fromisoformat(me["created_at"]).astimezone(UTC).replace(microsecond=0)
        plan = make_plan(
            seed=o.seed,
            reports=o.reports,
            days=o.days,
            anchor=anchor,
            catalogue=self.catalogue,
            wards=load_wards(),
            photos=o.photos,
        )
        citizens = [self.account(f"demo-citizen-{i + 1:02d}", f"Citizen {i + 1}", "citizen") for i in range(citizens_n)]
        staff = {
            dept: [
                self.account(f"demo-staff-{dept}-{n + 1}", f"{dept.title()} crew {n + 1}", "staff", [dept])
                for n in range(count)
            ]
            for dept, count in sorted(plan.staff.items())
        }
        await self.ensure_accounts([*importers, *citizens, *(s for team in staff.values() for s in team)])
        self.progress.advance(setup)
        self.summary.reports_planned = len(plan.reports)
        self.summary.planned_statuses = Counter(r.target for r in plan.reports)
        self.summary.planned_photos = sum(r.photo for r in plan.reports)
        self.summary.planned_votes = sum(len(r.voters) for r in plan.reports)
        self.summary.planned_comments = sum(len(r.comments) for r in plan.reports)
        stored = await self.stored(plan, importers)
        self.summary.reports_found = len(stored)
        self.progress.advance(setup)

        # One chain per report, all at once (each account paced, few requests in flight): the report
        # if it is missing, then its staff's steps one after the other, and its votes and comments.
        # Staff and citizens start on the first reports while the importers send the rest.
        self.tasks = {
            "reports": self.progress.add_task("Reports", total=len(plan.reports), completed=len(stored)),
            "steps": self.progress.add_task(
                "Staff transitions",
                total=sum(len(r.path) for r in plan.reports),
                completed=sum(_steps_done(r, stored.get(r.index)) for r in plan.reports),
            ),
            "participation": self.progress.add_task(
                "Votes and comments", total=self.summary.planned_votes + self.summary.planned_comments
            ),
        }
        people = (importers, citizens, staff)
        await _all(self.life(planned, stored.get(planned.index), people) for planned in plan.reports)

        expected = {r.index: (r.target, len(r.voters)) for r in plan.reports}
        final = await self.wait_for(plan, importers, _reached(expected))
        self.summary.statuses = Counter(item["status"] for item in final.values())
        self.summary.overdue = sum(bool(item.get("overdue")) for item in final.values())
        self.summary.issue_ids = [item["id"] for item in final.values()]
        self.summary.requests, self.summary.waited_429 = self.api.requests, self.api.waited_429
        self.summary.answers = self.api.answers
        self.summary.seconds = time.monotonic() - started
        return self.summary

    async def life(self, planned: PlannedReport, item: dict[str, Any] | None, people: People) -> None:
        """What becomes of one report; a failure is counted and shown, and the other reports go on."""
        try:
            await self._life(planned, item, people)
        except DemoError as exc:
            self.summary.failed += 1
            self.progress.console.print(f"[red]demo: report {planned.index}: {exc}[/red]")

    async def _life(self, planned: PlannedReport, item: dict[str, Any] | None, people: People) -> None:
        """Created if missing, then moved along, voted for and commented on."""
        importers, _, staff = people
        if item is None:
            issue_id, current, votes = await self.report(planned, importers[planned.importer]), "open", 0
            self.progress.advance(self.tasks["reports"])
            await asyncio.sleep(APPLY_S)  # the issues service applies it moments after its 202
        else:
            issue_id, current, votes = item["id"], item["status"], int(item.get("votes", 0))

        async def walk() -> None:
            status = current
            team = staff[planned.department]
            while (step := _next_step(planned, status)) is not None:
                if not await self.transition(issue_id, planned, status, step, team[planned.staff % len(team)]):
                    return
                self.progress.advance(self.tasks["steps"])
                status = step
                await asyncio.sleep(APPLY_S)

        await asyncio.gather(walk(), self.participate(issue_id, planned, people, votes=votes, fresh=item is None))

    async def participate(
        self, issue_id: str, planned: PlannedReport, people: People, *, votes: int, fresh: bool
    ) -> None:
        """Its citizens' votes (unless it has as many already) and the planned comments it lacks."""
        importers, citizens, staff = people
        if votes < len(planned.voters):
            for voter in planned.voters:
                await self.vote(issue_id, planned, voter, citizens[voter])
                self.progress.advance(self.tasks["participation"])
        else:
            self.progress.advance(self.tasks["participation"], len(planned.voters))
        if not planned.comments:
            return
        present: Counter[str] = Counter()
        if not fresh:  # one created by this run has none yet; else read by its importer (signed in already)
            reader = importers[planned.importer]
            detail = _check(await self.api.send("GET", f"/v1/issues/{issue_id}", account=reader), 200).json()
            present = Counter(c["body"] for c in detail["comments"])
        team = staff[planned.department]
        for number, (kind, who, text) in enumerate(planned.comments):
            if present[text] > 0:
                present[text] -= 1
            else:
                author = citizens[who] if kind == "citizen" else team[planned.staff % len(team)]
                await self.comment(issue_id, planned, number, author, text)
            self.progress.advance(self.tasks["participation"])

    async def wait_for(
        self,
        plan: Plan,
        importers: Sequence[Account],
        until: Callable[[dict[int, dict[str, Any]]], bool],
    ) -> dict[int, dict[str, Any]]:
        """Read the importers' reports until ``until`` holds (commands are applied moments after their 202)."""
        deadline = time.monotonic() + self.o.wait_s
        while True:
            stored = await self.stored(plan, importers)
            if until(stored):
                return stored
            if time.monotonic() > deadline:
                self.progress.console.print(
                    f"[yellow]demo: some commands were not applied within {self.o.wait_s:.0f} s[/yellow]"
                )
                return stored
            await asyncio.sleep(2.0)


def _reached(expected: dict[int, tuple[str, int]]) -> Callable[[dict[int, dict[str, Any]]], bool]:
    """Whether every issue (by plan index) has the status and at least the votes expected of it."""

    def reached(stored: dict[int, dict[str, Any]]) -> bool:
        return all(
            i in stored and stored[i]["status"] == status and int(stored[i]["votes"]) >= votes
            for i, (status, votes) in expected.items()
        )

    return reached


def _second(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _next_step(planned: PlannedReport, current: str) -> str | None:
    """The next status on the plan's path from ``current``, or None (there, or moved off the path by someone)."""
    if current == "open":
        return planned.path[0] if planned.path else None
    if current in planned.path:
        position = planned.path.index(current)
        return planned.path[position + 1] if position + 1 < len(planned.path) else None
    return None


def _steps_done(planned: PlannedReport, item: dict[str, Any] | None) -> int:
    if item is None or item["status"] not in planned.path:
        return 0
    return planned.path.index(item["status"]) + 1


async def _all(jobs: Iterable[Awaitable[None]]) -> None:
    """Run every job (the Api bounds how many requests are in flight); the first failure cancels the rest."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(_awaited(job))
    except ExceptionGroup as failed:  # the first failure, as a sequential loop would raise it
        raise failed.exceptions[0] from None


async def _awaited(job: Awaitable[None]) -> None:
    await job


async def seed(options: Options, console: Console | None = None) -> Summary:
    console = console or Console(stderr=True, quiet=options.quiet)
    api = Api(options.url, concurrency=options.concurrency)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False, disable=options.quiet) as progress:
            return await Demo(options, api, progress).run()
    finally:
        await api.aclose()


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
