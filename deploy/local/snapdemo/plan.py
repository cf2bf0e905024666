"""The plan: who reports what, where, when and what happens next, drawn from a fixed seed."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .data import (
    BBOX,
    CATEGORIES,
    CITIZEN_COMMENTS,
    DESCRIPTIONS,
    PATHS,
    STAFF_COMMENTS,
    STREETS,
    WARDS_FILE,
    DemoError,
)


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
