"""`make demo`'s plan: the same every time, inside Bengaluru, a mix worth looking at; its photos decode."""

from __future__ import annotations

import io
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from snapfix_issues.catalogue import seed_categories
from snapfix_issues.rules import STAFF_TRANSITIONS
from tests.stack import load_script

pytestmark = pytest.mark.unit

demo = load_script("deploy/local/demo.py", "snapfix_demo")
ANCHOR = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def catalogue() -> dict[str, dict[str, Any]]:
    """The issues service's seed plus the demo's own categories, as GET /v1/categories shows them."""
    live = {c.code: c.model_dump(mode="json") for c in seed_categories()}
    for spec in demo.CATEGORIES:
        live.setdefault(spec["code"], {"code": spec["code"], "department": spec["department"], "attributes": []})
        live[spec["code"]].setdefault("sla_hours", spec["sla_hours"])
    return live


def plan(reports: int = 2000, seed: int = 17) -> Any:
    return demo.make_plan(
        seed=seed, reports=reports, days=90, anchor=ANCHOR, catalogue=catalogue(), wards=demo.load_wards(), photos=100
    )


def test_the_wards_file_holds_40_or_more_wards_inside_bengaluru() -> None:
    wards = demo.load_wards()
    west, south, east, north = demo.BBOX
    assert len(wards) >= 40
    assert len({w.name for w in wards}) == len(wards)
    assert all(west < w.lon < east and south < w.lat < north and w.weight > 0 for w in wards)
    assert {"Koramangala", "Indiranagar", "Jayanagar", "Malleshwaram", "Whitefield", "HSR Layout"} <= {
        w.name for w in wards
    }


def test_the_same_seed_and_anchor_give_the_same_plan_and_another_seed_another() -> None:
    assert plan() == plan()
    assert plan(seed=18).reports != plan().reports


def test_every_report_is_in_bengaluru_within_the_days_and_known_by_a_distinct_second() -> None:
    reports = plan().reports
    west, south, east, north = demo.BBOX
    assert all(west <= r.lon <= east and south <= r.lat <= north for r in reports)
    assert all(ANCHOR - timedelta(days=90) <= r.reported_at < ANCHOR for r in reports)
    assert len({(r.importer, r.key) for r in reports}) == len(reports)


def test_the_mix_has_statuses_categories_photos_votes_comments_and_overdue_reports() -> None:
    the_plan = plan()
    reports, live = the_plan.reports, catalogue()
    statuses = Counter(r.target for r in reports)
    assert set(statuses) == {"open", "acknowledged", "in_progress", "resolved", "closed", "rejected"}
    assert 0.15 < statuses["open"] / len(reports) < 0.5
    assert len({r.category for r in reports}) == len(demo.CATEGORIES)
    assert 50 <= sum(r.photo for r in reports) <= 150  # about the 100 asked for
    assert sum(bool(r.voters) for r in reports) > len(reports) // 10
    assert sum(bool(r.comments) for r in reports) > len(reports) // 20
    unsettled = {"open", "acknowledged", "in_progress"}
    overdue = [
        r
        for r in reports
        if r.target in unsettled and r.reported_at + timedelta(hours=live[r.category]["sla_hours"]) < ANCHOR
    ]
    assert len(reports) // 10 < len(overdue) < len(reports) // 2
    # Every status is reached along staff transitions the lifecycle allows, one step at a time.
    assert all(r.path in demo.PATHS[r.target] for r in reports)
    assert all(_allowed(("open", *r.path)) for r in reports)
    # Staff and importers share the work so that nobody waits long on the per-user rate limit.
    assert the_plan.importers == 8
    assert all(1 <= n <= 8 for n in the_plan.staff.values())


def _allowed(statuses: tuple[str, ...]) -> bool:
    return all(to in STAFF_TRANSITIONS[current] for current, to in itertools.pairwise(statuses))


def test_required_attributes_are_filled_from_the_live_catalogue() -> None:
    garbage = [r for r in plan().reports if r.category == "garbage"]
    keys = {v["key"] for a in catalogue()["garbage"]["attributes"] if a["required"] for v in a["values"]}
    assert garbage
    assert all(r.attributes["bin_type"] in keys for r in garbage)


def test_a_demo_photo_is_a_jpeg_the_media_service_can_read() -> None:
    report = next(r for r in plan().reports if r.photo)
    data = demo.draw_photo(report)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (640, 480)
    assert demo.draw_photo(report) == data  # the same picture on a rerun


def test_demo_passwords_are_per_account_and_derived_from_the_admins() -> None:
    one = demo.demo_password("admin-secret", "demo-citizen-01@demo.snapfix.example")
    assert one == demo.demo_password("admin-secret", "demo-citizen-01@demo.snapfix.example")
    assert one != demo.demo_password("admin-secret", "demo-citizen-02@demo.snapfix.example")
    assert one != demo.demo_password("other-secret", "demo-citizen-01@demo.snapfix.example")
    assert len(one) >= 20


def test_wrong_arguments_are_refused_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        demo.options_from(["--url", "http://127.0.0.1:1", "--reports", "0"])
    assert exited.value.code != 0
    assert "--reports" in capsys.readouterr().err
