"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright, against a real uvicorn server over a seeded SQLite store.

It logs in through the form, waits for the data, checks that every chart drew its lines
(pixels of each series' colour on the canvas, uPlot's paths, tick labels on both axes),
that the model routing panel shows the seeded router's decisions and saving,
that the window picker changes the data, that an alert can be acknowledged, that the
theme toggle and a phone-sized screen work, that nothing but this server was asked for
anything, and that the console stayed clean. (The README's screenshot comes from the
tour's dashboard instead: tests/ml_ops/demo/test_tour_browser.py.)

Chromium or Playwright missing: skipped locally, a failure under CI=true
(`tests.ml_ops.dashboard.browser.require_browser`). `make test` installs Chromium when run as root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ml_ops.dashboard import create_dashboard_app
from ml_ops.web import AdminKey
from tests.ml_ops.dashboard.browser import (
    assert_every_chart_drew,
    assert_routing_panel,
    chromium_page,
    log_in,
    require_browser,
    wait_until,
)
from tests.ml_ops.dashboard.conftest import ADMIN_KEY
from tests.ml_ops.dashboard.seeding import Seeded
from tests.ml_ops.dashboard.serving import served


@pytest.fixture
def browser_available() -> None:
    """Skip (fail under CI) before any seeding when Playwright or Chromium is missing."""
    require_browser()


@pytest.fixture
async def dashboard_url(
    browser_available: None, seeded_state: Seeded, admin_key: AdminKey
) -> AsyncIterator[str]:
    with served(create_dashboard_app(seeded_state.manager, admin_key)) as base:
        yield base


async def _assert_routing_panel(page: Any) -> None:
    """The model routing panel shows the seeded router's decisions and its saving."""
    await assert_routing_panel(page)
    reasons = await page.locator("#routing-reasons tbody").inner_text()
    assert "simple:rule:short_prompt" in reasons


async def _updates(page: Any) -> int:
    return int(await page.get_attribute("body", "data-updates") or 0)


async def test_the_dashboard_in_headless_chromium(dashboard_url: str, tmp_path: Path) -> None:
    async with chromium_page(tmp_path / "profile", dashboard_url) as watched:
        page = watched.page
        await log_in(page, dashboard_url, ADMIN_KEY)

        # The page shows the seeded data.
        requests_card = page.locator('[data-card="requests"] .card-value')
        assert int((await requests_card.inner_text()).replace(",", "")) > 0
        assert await page.locator("#overall").get_attribute("data-status") in {
            "healthy", "degraded", "unhealthy"
        }  # fmt: skip
        assert await page.locator("[data-budget]").count() == 3
        assert await page.locator("[data-experiment]").count() == 2
        srm = page.locator('[data-experiment="model_test"] .badge', has_text="SRM p")
        assert await srm.count() == 1
        assert await page.locator("#cost-models tbody tr").count() == 4
        await _assert_routing_panel(page)
        assert await page.locator("[data-component]").count() >= 5
        await assert_every_chart_drew(page)

        # The window picker changes the data.
        hour = await page.evaluate("window.devoraDashboard.state.data.timeseries")
        before = await _updates(page)
        await page.select_option("#window", "24h")
        await page.wait_for_selector('body[data-loaded-window="24h"]')
        await wait_until(page, f"Number(document.body.dataset.updates) > {before}")
        day = await page.evaluate("window.devoraDashboard.state.data.timeseries")
        assert (hour["window"], day["window"]) == ("1h", "24h")
        assert hour["bucket_seconds"] < day["bucket_seconds"] and hour["t"] != day["t"]
        assert sum(day["series"]["requests"]) > sum(hour["series"]["requests"])
        chart_x = await page.evaluate("window.devoraDashboard.charts.requests.data[0]")
        assert chart_x == day["t"]
        assert "window=24h" in page.url
        await assert_every_chart_drew(page)

        # Acknowledge an alert.
        first = page.locator("button[data-ack]").first
        alert_id = await first.get_attribute("data-ack")
        await first.click()
        acknowledged = page.locator(f'li[data-alert="{alert_id}"] .muted', has_text="acknowledged")
        await acknowledged.wait_for()
        assert await page.locator(f'button[data-ack="{alert_id}"]').count() == 0

        # Dark theme, and a phone-sized screen.
        background = "getComputedStyle(document.body).backgroundColor"
        light_background = await page.evaluate(background)
        await page.click("#theme-toggle")
        assert await page.get_attribute("html", "data-theme") == "dark"
        assert await page.evaluate(background) != light_background
        await assert_every_chart_drew(page)
        await page.set_viewport_size({"width": 390, "height": 844})
        await wait_until(page, "window.devoraDashboard.charts.requests.width <= 390")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    watched.assert_clean()
