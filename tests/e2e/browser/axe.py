"""axe-core (the web app's devDependency, ``web/node_modules/axe-core``) run in the page under test.

``await assert_accessible(page, context="reset form")`` fails listing every violation whose impact is
serious or critical: its rule id, help text, help URL and the CSS targets of the offending nodes.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from playwright.async_api import Page

from tests.stack import ROOT

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")

_RUN = """async (include) => {
    // Every rule axe enables by default (WCAG A/AA and its best practices).
    const result = await axe.run(include ?? document, {resultTypes: ["violations"]});
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        targets: v.nodes.map(n => n.target.map(t => Array.isArray(t) ? t.join(" >>> ") : t).join(" ")),
    }));
}"""


@cache
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(
            f"{AXE} is missing: axe-core is a devDependency of the web app; `npm ci` in web/ installs it",
            pytrace=False,
        )
    return AXE.read_text(encoding="utf-8")


async def violations(page: Page, *, include: str | None = None) -> list[dict[str, Any]]:
    """Every axe violation on the page (or within the CSS selector ``include``), whatever its impact."""
    # Evaluated over the DevTools protocol: the page's CSP (script-src) does not apply to it.
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    found: list[dict[str, Any]] = await page.evaluate(_RUN, include)
    return found


async def assert_accessible(page: Page, context: str = "", *, include: str | None = None) -> None:
    """Fail when axe finds a serious or critical violation; ``context`` names the screen/state in the message."""
    failing = [v for v in await violations(page, include=include) if v["impact"] in FAILING_IMPACTS]
    if failing:
        where = f"{context} ({page.url})" if context else page.url
        lines = [f"axe: {len(failing)} serious or critical violation(s) on {where}:"]
        for v in failing:
            lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
            lines += [f"    {target}" for target in v["targets"]]
        pytest.fail("\n".join(lines), pytrace=False)
