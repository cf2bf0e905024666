"""Prometheus rules and Grafana dashboard: valid, unit-tested, and reading metrics that exist.

``promtool`` (Debian's ``prometheus`` package, installed by deploy/local/install.sh)
checks the rules and the scrape config and runs the alert unit tests. The metric names
used by the rules and the dashboard are compared with what the five processes really
expose on ``/metrics`` (each app is built as in production and its endpoint scraped).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.tools import ROOT, tool

pytestmark = pytest.mark.deploy

PROM = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
REQUIRED_ALERTS = {
    "SnapfixGatewayLatencySLO",
    "SnapfixHighErrorRate",
    "SnapfixConsumerLagHigh",
    "SnapfixDeadLetters",
    "SnapfixInstanceDown",
    "SnapfixKafkaPublishErrors",
}
# Series Prometheus makes itself, not the processes.
SYNTHETIC = {"up"}
RECORDED = re.compile(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b")
RAW = re.compile(r"\b(?:snapfix|faststream)_[a-z0-9_]+\b|\bup\b")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("promtool")), *args], capture_output=True, text=True, timeout=60, cwd=PROM, check=False
    )


def test_rules_pass_promtool_check() -> None:
    out = promtool("check", "rules", *map(str, RULE_FILES))
    assert out.returncode == 0, out.stdout + out.stderr


def test_alert_unit_tests_pass() -> None:
    out = promtool("test", "rules", "tests/alerts.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_scrape_config_is_valid_and_loads_the_rules() -> None:
    out = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {f"snapfix-{p}" for p in ("gateway", "issues", "media", "notify", "analytics")} <= jobs


def rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def test_every_required_alert_exists_and_is_unit_tested() -> None:
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts >= REQUIRED_ALERTS
    tested = (PROM / "tests" / "alerts.test.yml").read_text()
    untested = {a for a in alerts if f"alertname: {a}" not in tested}
    assert not untested


def dashboard_exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            yield node["expr"]
        for value in node.values():
            yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for value in node:
            yield from dashboard_exprs(value)


def test_the_dashboard_parses_and_covers_the_required_views() -> None:
    assert DASHBOARDS, "no dashboard JSON under deploy/grafana/dashboards"
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"]
        assert dashboard["title"]
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert all(p["targets"] and p["datasource"] for p in panels)
        assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
        text = " ".join(dashboard_exprs(dashboard))
        for needle in (
            "snapfix_http_requests",
            "p99",
            "snapfix_consumer_lag",
            "faststream_received_processed_messages_duration_seconds",
            "snapfix_dead_letters_total",
        ):
            assert needle in text, f"{path.name} has no panel on {needle}"


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "snapfix.yml").read_text())
    assert provider["providers"][0]["options"]["path"].endswith("/snapfix")
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for path in DASHBOARDS:
        current = json.loads(path.read_text())["templating"]["list"][0]["current"]["value"]
        assert current == uid


@cache
def exported_samples() -> frozenset[str]:
    """Every sample name the five processes expose on /metrics (apps built, nothing started)."""
    import asyncio

    from snapfix_analytics.app import create_app as analytics
    from snapfix_gateway.app import create_app as gateway
    from snapfix_issues.app import create_app as issues
    from snapfix_media.app import create_app as media
    from snapfix_notify.app import create_app as notify

    apps = [factory() for factory in (gateway, issues, media, notify, analytics)]

    async def scrape() -> set[str]:
        names: set[str] = set()
        for app in apps:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
                answer = await client.get("/metrics", timeout=10)
            assert answer.status_code == 200
            for family in text_string_to_metric_families(answer.text):
                suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ("",))
                names.update(family.name + suffix for suffix in suffixes)
        return names

    return frozenset(asyncio.run(scrape()))


def used_metric_names(expr: str) -> tuple[set[str], set[str]]:
    """(recording-rule names, raw metric names) an expression reads."""
    recorded = set(RECORDED.findall(expr))
    raw = set(RAW.findall(RECORDED.sub(" ", expr)))
    return recorded, raw


def test_the_name_extraction_sees_recorded_and_raw_names() -> None:
    recorded, raw = used_metric_names(
        'sum by (job) (rate(snapfix_x_total{job=~"snapfix-a"}[5m])) / service:snapfix_y:rate5m + up'
    )
    assert recorded == {"service:snapfix_y:rate5m"}
    assert raw == {"snapfix_x_total", "up"}


def test_rules_and_dashboard_read_only_metrics_the_code_exports() -> None:
    defined = {r["record"] for r in rules() if "record" in r}
    exprs = [r["expr"] for r in rules()] + [e for p in DASHBOARDS for e in dashboard_exprs(json.loads(p.read_text()))]
    exported = exported_samples()
    assert "snapfix_http_request_duration_seconds_bucket" in exported  # the scrape itself worked
    missing_raw: set[str] = set()
    missing_recorded: set[str] = set()
    for expr in exprs:
        recorded, raw = used_metric_names(expr)
        missing_recorded |= recorded - defined
        missing_raw |= raw - exported - SYNTHETIC
    assert not missing_recorded, f"read but never recorded: {sorted(missing_recorded)}"
    assert not missing_raw, f"read but not exported by any process: {sorted(missing_raw)}"
