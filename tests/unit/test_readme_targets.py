"""The README's make targets are real and `make help` lists each of them, with what it does; the
targets a newcomer runs without root (lint, test-unit) never reach `install` (apt-get)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.stack import ROOT

pytestmark = pytest.mark.unit

NAMED = re.compile(r"`make ([a-z][a-z0-9-]*)")


def make(*args: str) -> str:
    assert shutil.which("make"), "make is needed"
    done = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def help_lines() -> dict[str, str]:
    listed = {}
    for line in make("help").splitlines():
        target, _, description = line.strip().partition(" ")
        listed[target] = description.strip()
    return listed


def test_make_help_lists_every_target_the_readme_names_with_a_description() -> None:
    named = set(NAMED.findall((ROOT / "README.md").read_text()))
    assert {"run", "test", "check", "test-unit", "help", "venv"} <= named
    listed = help_lines()
    missing = sorted(named - listed.keys())
    assert not missing, f"the README names make targets that `make help` does not list: {missing}"
    assert all(listed[target] for target in named)


def test_every_makefile_target_has_a_description() -> None:
    declared = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    assert declared - help_lines().keys() == set()


@pytest.mark.parametrize("target", ["lint", "typecheck", "imports", "test-unit"])
def test_the_no_root_targets_never_run_the_installer(target: str) -> None:
    # -n prints what would run (recipes of prerequisites included) without running it.
    planned = make("-n", target)
    assert "uv sync --frozen --all-packages --all-groups" in planned
    assert "install.sh" not in planned
    assert "apt-get" not in planned
