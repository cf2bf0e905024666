"""What the browser tests share besides fixtures: the Chromium to launch, its flags, the viewports.

The browser is Debian's ``/usr/bin/chromium`` (``make install`` installs it); no browser is ever
downloaded (never run ``playwright install``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
)
TIMEOUT_MS = 10_000  # every action, navigation and expect() waits at most this long
LAUNCH_TIMEOUT_MS = 60_000  # a cold Chromium start on a busy machine
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool  # a touch screen and the mobile meta-viewport, as a phone has


PHONE = Viewport("phone", 360, 740, mobile=True)
DESKTOP = Viewport("desktop", 1280, 800, mobile=False)

# Runs a test once per viewport: ``@both_viewports`` above ``async def test_x(page: Page) -> None``.
both_viewports = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=lambda v: v.name, indirect=True)
# One viewport only: ``@phone_only`` (the default viewport is DESKTOP).
phone_only = pytest.mark.parametrize("viewport", [PHONE], ids=lambda v: v.name, indirect=True)


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests use Debian's Chromium, which `make install` installs "
            "(deploy/local/install.sh; by hand: apt-get install -y chromium). Never `playwright install`.",
            pytrace=False,
        )
