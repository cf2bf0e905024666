"""The scheduled backups are declared for every service database, in compose as in Kubernetes."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.deploy.tools import ROOT, tool

pytestmark = pytest.mark.deploy

DATABASES = [f"snapfix_{p}" for p in ("gateway", "issues", "media", "notify", "analytics")]
OVERRIDE = ROOT / "deploy" / "backup" / "docker-compose.backup.yml"


def test_the_compose_backup_profile_is_valid_and_dumps_every_service_database() -> None:
    secrets = (
        "JWT_SECRET",
        "UPLOAD_SECRET",
        "UNSUBSCRIBE_SECRET",
        "PSEUDONYM_SECRET",
        "INTERNAL_TOKEN_SECRET",
        "LINK_SEAL_KEY",
    )
    env = {**os.environ, **{f"SNAPFIX_{name}": "compose-check-placeholder" for name in secrets}}
    out = subprocess.run(
        [str(tool("docker-compose")), "-f", "docker-compose.yml", "-f", str(OVERRIDE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    backup = yaml.safe_load(OVERRIDE.read_text())["services"]["backup"]
    assert backup["profiles"] == ["backup"]
    script = "\n".join(backup["command"])
    assert "mongodump" in script
    for database in DATABASES:
        assert database in script
