"""Fixtures for the browser tests: Debian's Chromium (one per session), a fresh context and page per
test at a chosen viewport, the gateway as ``base_url``, a screenshot at every test's end under
``artifacts/`` (git-ignored), and the page's console errors in the report of a failed test.

A test here is an ``async def`` (pytest-asyncio, as the rest of the suite) taking ``page``;
``page.goto("/")`` opens the gateway's ``/``. Every test in this folder is marked ``browser`` and ``e2e``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Request, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from tests.e2e.browser.harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    LAUNCH_TIMEOUT_MS,
    TIMEOUT_MS,
    Viewport,
    require_chromium,
)
from tests.e2e.conftest import System

HERE = Path(__file__).parent


@dataclass
class BrowserLog:
    """What the page said while the test ran: console errors, uncaught exceptions, failed requests."""

    screenshot: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page: Page | None = None

    def describe(self) -> str:
        lines = [f"page: {self.page.url if self.page else '(none)'}", f"screenshot: {self.screenshot}"]
        for title, entries in (
            ("console errors", self.console_errors),
            ("uncaught exceptions", self.page_errors),
            ("failed requests", self.failed_requests),
        ):
            lines.append(f"{title}: {len(entries)}")
            lines += [f"  {entry}" for entry in entries]
        return "\n".join(lines)


LOG = pytest.StashKey[BrowserLog]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    log = item.stash.get(LOG, None)
    if log is not None and report.failed:
        report.sections.append((f"browser ({report.when})", log.describe()))
    return report


def artifact_name(item: pytest.Item) -> str:
    """``<module>.<test>[<params>]`` with anything but letters, digits, ``._-[]`` made ``_``."""
    return re.sub(r"[^\w.\-\[\]]", "_", f"{item.path.stem}.{item.name}")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, launched once per session (each test gets its own context)."""
    require_chromium()
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        # A plain launch starts from a fresh temporary user-data dir, removed on close.
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def base_url(system: System) -> str:
    """The gateway of the e2e ``system`` (it serves the web app at ``/``); the context's base URL."""
    return system.gateway


@pytest.fixture
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """DESKTOP unless the test is parametrized (``@both_viewports``, ``@phone_only`` from harness)."""
    return getattr(request, "param", DESKTOP)


@pytest.fixture
def browser_locale() -> str:
    """The browser's language (``navigator.language``, Accept-Language); override or parametrize it."""
    return "en-US"


@pytest.fixture
async def context(
    browser: Browser, base_url: str, viewport: Viewport, browser_locale: str
) -> AsyncIterator[BrowserContext]:
    """A fresh context (no cookies, no storage) per test, at ``viewport``, relative URLs against ``base_url``."""
    ctx = await browser.new_context(
        base_url=base_url,
        viewport={"width": viewport.width, "height": viewport.height},
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        locale=browser_locale,
        timezone_id="UTC",
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
def browser_log(request: pytest.FixtureRequest) -> BrowserLog:
    """The page's console errors, uncaught exceptions and failed requests (a test may assert on them)."""
    log = BrowserLog(screenshot=ARTIFACTS / f"{artifact_name(request.node)}.png")
    request.node.stash[LOG] = log
    return log


@pytest.fixture
async def page(context: BrowserContext, browser_log: BrowserLog) -> AsyncIterator[Page]:
    """A page in ``context``; screenshotted (full page) to ``artifacts/<module>.<test>.png`` when the test ends."""
    opened = await context.new_page()
    browser_log.page = opened

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            at = f" ({where['url']}:{where['lineNumber']})" if where.get("url") else ""
            browser_log.console_errors.append(f"{message.text}{at}")

    def on_request_failed(request: Request) -> None:
        browser_log.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: browser_log.page_errors.append(f"{error.name}: {error.message}"))
    opened.on("requestfailed", on_request_failed)
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            await opened.screenshot(path=browser_log.screenshot, full_page=True, timeout=TIMEOUT_MS)
        except PlaywrightError as error:  # a crashed or closed page: the test's own outcome stands
            warnings.warn(f"no screenshot of {browser_log.screenshot.name}: {error.message}", stacklevel=1)
