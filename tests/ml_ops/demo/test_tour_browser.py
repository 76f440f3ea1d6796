"""The dashboard the tour leaves, in a real browser: headless Chromium (Debian's `chromium`)
driven by Playwright, against the tour of conftest.py while it keeps serving.

It logs in with the admin key as a newcomer would, finds the page on the `all` window
(the whole tour; the demo's default), and checks that every panel shows the tour: the
overview cards, every chart drawn (series pixels on the canvas), the cost tables by
model, provider, agent and user, the budget, the forecast and recommendations, the model
routing panel, the experiment and its decision, the alerts, the health of every
component with the circuit breakers; that nothing but the tour's server was asked for
anything, and that the console stayed clean. Its full-page screenshot is the README's
(`docs/images/dashboard.png`).

Chromium or Playwright missing: skipped locally, a failure under CI=true
(`tests.ml_ops.dashboard.browser.require_browser`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ml_ops.demo.cast import CAST
from ml_ops.demo.experiment import EXPERIMENT
from ml_ops.demo.tour import RESEARCH_BUDGET
from ml_ops.demo.watch import FAILOVER_RULE
from tests.ml_ops.dashboard.browser import (
    assert_every_chart_drew,
    assert_routing_panel,
    chromium_page,
    log_in,
    require_browser,
)
from tests.ml_ops.demo.conftest import ADMIN_KEY, Served

if TYPE_CHECKING:
    from playwright.async_api import Page

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "images" / "dashboard.png"
WIDTH = 1400
SCALE = 0.75
"""Device pixels per CSS pixel: the screenshot is 1050 pixels wide, more than the README's
column shows, and about 450 kB where scale 1 comes close to test_docs.py's 600 kB."""
WINDOW = "all"
"""The whole tour: at `1h` a tour of seconds fills one or two minute-wide buckets."""


@pytest.fixture
def browser_available() -> None:
    """Skip (fail under CI) when Playwright or Chromium is missing."""
    require_browser()


def _screenshot_path(tmp_path: Path) -> Path:
    """docs/images/dashboard.png when asked (DEVORA_UPDATE_SCREENSHOT=1) or missing;
    otherwise the test's temporary folder, so a test run leaves the tree as it was."""
    if os.environ.get("DEVORA_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        return SCREENSHOT
    return tmp_path / "dashboard.png"


async def _cells(page: Page, table: str, column: int = 0) -> list[str]:
    """The text of one column of a table's rows."""
    rows = page.locator(f"#{table} tbody tr")
    return [
        await rows.nth(i).locator("td").nth(column).inner_text() for i in range(await rows.count())
    ]


async def _assert_cards(page: Page, served: Served) -> None:
    cards = page.locator("#cards .card-value")
    assert await cards.count() == 7
    values = [await cards.nth(i).inner_text() for i in range(7)]
    assert "–" not in values, values
    shown = await page.locator('[data-card="requests"] .card-value').inner_text()
    assert int(shown.replace(",", "")) >= served.summary.calls
    cache = await page.locator('[data-card="cache"] .card-value').inner_text()
    assert float(cache.rstrip("%")) > 0
    assert "records from the event store" in await page.locator("#series-note").inner_text()


async def _assert_costs(page: Page) -> None:
    models = set(await _cells(page, "cost-models"))
    assert {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"} <= models, models
    assert {"openai", "anthropic"} <= set(await _cells(page, "cost-providers"))
    assert set(await _cells(page, "cost-agents")) == {member.agent for member in CAST}
    assert set(await _cells(page, "cost-users")) == {member.user for member in CAST}
    budget = page.locator(f'[data-budget="{RESEARCH_BUDGET.name}"]')
    assert await page.locator("[data-budget]").count() == 1
    assert "% used" in (await budget.locator(".bar").get_attribute("aria-label") or "")
    assert (await page.locator("#forecast-summary").inner_text()).startswith("Next ")
    assert await page.locator("#recommendations li strong").count() > 0


async def _assert_experiment_alerts_and_health(page: Page) -> None:
    experiment = page.locator(f'[data-experiment="{EXPERIMENT}"]')
    assert await experiment.locator("tbody tr").count() == 2
    assert await experiment.locator(".badge", has_text="winner: concise").count() == 1
    assert "beats detailed on cost" in await experiment.locator(".reason").inner_text()
    rules = set(await _cells(page, "alerts-recent", column=1))
    assert {FAILOVER_RULE, f"budget:{RESEARCH_BUDGET.name}"} <= rules, rules
    assert await page.locator("#alerts-active li").count() > 0  # the budget's, still firing
    components = page.locator("[data-component]")
    names = {
        await components.nth(i).get_attribute("data-component")
        for i in range(await components.count())
    }
    assert {"errors", "latency", "providers", "budgets", "circuit_breakers"} <= names, names
    breakers = await page.locator('[data-component="circuit_breakers"] p').inner_text()
    assert "circuits" in breakers, breakers
    assert await page.locator("#overall").get_attribute("data-status") in {
        "healthy", "degraded", "unhealthy"
    }  # fmt: skip


async def test_the_tours_dashboard_shows_every_panel(
    browser_available: None, served: Served, tmp_path: Path
) -> None:
    async with chromium_page(
        tmp_path / "profile", served.base_url, width=WIDTH, scale=SCALE
    ) as watched:
        page = watched.page
        await log_in(page, served.base_url, ADMIN_KEY)
        # the demo's dashboard opens on the whole tour (at 1h, a one-minute tour is one
        # 60 s bucket, a lone point uPlot does not draw as a line)
        await page.wait_for_selector(f'body[data-loaded-window="{WINDOW}"]')

        await _assert_cards(page, served)
        await assert_every_chart_drew(page)
        await _assert_costs(page)
        await assert_routing_panel(page)
        await _assert_experiment_alerts_and_health(page)
        await page.screenshot(path=str(_screenshot_path(tmp_path)), full_page=True)
    watched.assert_clean()
