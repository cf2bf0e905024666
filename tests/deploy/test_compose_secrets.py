"""Compose runs SnapFix as production: every signing secret is required, none falls back to a development value."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.tools import ROOT, tool

pytestmark = pytest.mark.deploy

APPS = ("gateway", "issues", "media", "notify", "analytics")
# Each process's secrets: its own, and the one every process shares.
OWN = {
    "gateway": ("SNAPFIX_JWT_SECRET", "SNAPFIX_LINK_SEAL_KEY"),
    "media": ("SNAPFIX_UPLOAD_SECRET",),
    "notify": ("SNAPFIX_UNSUBSCRIBE_SECRET", "SNAPFIX_LINK_SEAL_KEY"),
    "analytics": ("SNAPFIX_PSEUDONYM_SECRET",),
}
SECRETS = {app: (*OWN.get(app, ()), "SNAPFIX_INTERNAL_TOKEN_SECRET") for app in APPS}
ALL = sorted({name for names in SECRETS.values() for name in names})


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SNAPFIX_")}
    return subprocess.run(
        [str(tool("docker-compose")), "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("missing", ALL)
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    given = {name: "compose-check-placeholder" for name in ALL if name != missing}
    out = compose_config(given)
    assert out.returncode != 0
    assert f"set {missing}" in out.stderr


def test_every_process_runs_as_production_with_its_secret_passed_through() -> None:
    out = compose_config({name: f"placeholder-{name}" for name in ALL})
    assert out.returncode == 0, out.stderr
    services: dict[str, Any] = yaml.safe_load(out.stdout)["services"]
    for app in APPS:
        assert services[app]["environment"]["SNAPFIX_ENVIRONMENT"] == "production", app
    for app, names in SECRETS.items():
        for name in names:
            assert services[app]["environment"][name] == f"placeholder-{name}", (app, name)
