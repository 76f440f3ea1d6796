"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright, against a real uvicorn server over a seeded SQLite store.

It logs in through the form, waits for the data, checks that every chart drew its lines
(pixels of each series' colour on the canvas, uPlot's paths, tick labels on both axes),
that the model routing panel shows the seeded router's decisions and saving,
that the window picker changes the data, that an alert can be acknowledged, that the
theme toggle and a phone-sized screen work, that nothing but this server was asked for
anything, and that the console stayed clean. It saves a screenshot.

Chromium or Playwright missing: skipped locally, a failure under CI=true
(`tests.services.policy`). `make test` installs Chromium when run as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ml_ops.dashboard import create_dashboard_app
from ml_ops.web import AdminKey
from tests.ml_ops.dashboard.conftest import ADMIN_KEY
from tests.ml_ops.dashboard.seeding import Seeded
from tests.ml_ops.dashboard.serving import served
from tests.services.policy import service_unavailable

CHROMIUM = os.environ.get("DEVORA_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = ("requests", "errors", "latency", "ttft", "cost", "tokens", "cache", "forecast")
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "images" / "dashboard.png"
TIMEOUT_MS = 20_000

# For each chart: whether it drew, judged by uPlot's own state and by the canvas pixels.
CHART_STATE_JS = """
(name) => {
  const u = window.devoraDashboard.charts[name];
  if (!u) return null;
  const rgb = (color) => {
    const hex = /^#([0-9a-f]{6})$/i.exec(color || "");
    if (hex) { const n = parseInt(hex[1], 16); return [n >> 16, (n >> 8) & 255, n & 255]; }
    const m = /^rgba?\\(([^)]+)\\)$/.exec(color || "");
    if (!m) return null;
    const p = m[1].split(",").map(Number);
    return p.length > 3 && p[3] < 1 ? null : p.slice(0, 3);
  };
  const canvas = u.ctx.canvas;
  const pixels = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const lines = u.series.slice(1).map((s, i) => {
    const stroke = typeof s.stroke === "function" ? s.stroke(u, i + 1) : s.stroke;
    const want = rgb(stroke);
    let hits = 0;
    if (want) {
      for (let p = 0; p < pixels.length; p += 4) {
        if (pixels[p + 3] > 200 && Math.abs(pixels[p] - want[0]) + Math.abs(pixels[p + 1] - want[1])
            + Math.abs(pixels[p + 2] - want[2]) < 30) hits++;
      }
    }
    const values = (u.data[i + 1] || []).filter((v) => v !== null && v !== undefined);
    return { label: s.label, hits, values: values.length, path: !!(s._paths && s._paths.stroke) };
  });
  return {
    lines,
    points: u.data[0].length,
    xTicks: (u.axes[0]._values || []).filter(Boolean).length,
    yTicks: (u.axes[1]._values || []).filter(Boolean).length,
    yLabel: u.axes[1].label,
    xLabel: u.axes[0].label,
  };
}
"""


@pytest.fixture
def browser_available() -> None:
    """Skip (fail under CI) before any seeding when Playwright or Chromium is missing."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        service_unavailable(
            "Playwright", "the playwright package is not installed",
            "pip install -e '.[dev]' (never `playwright install`: Debian's chromium is used)",
        )  # fmt: skip
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        service_unavailable(
            "Chromium", f"{CHROMIUM} not found",
            "apt-get install -y chromium (make test does it when run as root), or set "
            "DEVORA_CHROMIUM to a Chromium binary",
        )  # fmt: skip


@pytest.fixture
async def dashboard_url(
    browser_available: None, seeded_state: Seeded, admin_key: AdminKey
) -> AsyncIterator[str]:
    with served(create_dashboard_app(seeded_state.manager, admin_key)) as base:
        yield base


def _screenshot_path(tmp_path: Path) -> Path:
    """docs/images/dashboard.png when asked (DEVORA_UPDATE_SCREENSHOT=1) or missing;
    otherwise the test's temporary folder, so a test run leaves the tree as it was."""
    if os.environ.get("DEVORA_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        return SCREENSHOT
    return tmp_path / "dashboard.png"


async def _assert_every_chart_drew(page: Any) -> None:
    for name in CHARTS:
        chart = await page.evaluate(CHART_STATE_JS, name)
        assert chart is not None, f"chart {name} was not created"
        assert chart["points"] > 0, name
        assert chart["xTicks"] > 0 and chart["yTicks"] > 0, (name, chart)
        assert chart["xLabel"] and chart["yLabel"], (name, chart)
        with_data = [line for line in chart["lines"] if line["values"]]
        assert with_data, f"chart {name} has no data: {chart}"
        assert any(line["path"] for line in with_data), (name, chart)
        assert any(line["hits"] > 10 for line in with_data), f"chart {name} drew nothing: {chart}"


async def _assert_routing_panel(page: Any) -> None:
    """The model routing panel shows the seeded router's decisions and its saving."""
    routing = await page.evaluate("window.devoraDashboard.state.data.routing")
    assert routing["routed_calls"] > 0 and routing["savings"]["saving"] > 0
    routed = page.locator('[data-card="routing-routed"] .card-value')
    assert int((await routed.inner_text()).replace(",", "")) == routing["routed_calls"]
    saving = await page.locator('[data-card="routing-saving"] .card-value').inner_text()
    assert saving.startswith("$") and float(saving[1:]) > 0
    assert await page.locator("#routing-reasons tbody tr").count() == len(routing["by_reason"])
    assert await page.locator("#routing-models tbody tr").count() == len(routing["by_model"])
    reasons = await page.locator("#routing-reasons tbody").inner_text()
    assert "simple:rule:short_prompt" in reasons
    assert "decided by a router" in await page.locator("#routing-note").inner_text()


async def _wait_until(page: Any, expression: str) -> None:
    """Poll `expression` from here: `page.wait_for_function` polls with `eval` inside the
    page, which the page's CSP (no 'unsafe-eval') refuses whenever the first check fails."""
    for _ in range(TIMEOUT_MS // 50):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still false after {TIMEOUT_MS} ms: {expression}")


async def _updates(page: Any) -> int:
    return int(await page.get_attribute("body", "data-updates") or 0)


async def test_the_dashboard_in_headless_chromium(dashboard_url: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    problems: list[str] = []
    foreign: list[str] = []
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900}, color_scheme="light",
        )  # fmt: skip
        page = context.pages[0] if context.pages else await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "request",
            lambda r: foreign.append(r.url) if not r.url.startswith(dashboard_url) else None,
        )

        await page.goto(dashboard_url + "/")
        assert page.url == dashboard_url + "/login"
        await page.fill("#key", ADMIN_KEY)
        await page.click("button[type=submit]")
        await page.wait_for_selector("body[data-updates]")
        assert page.url == dashboard_url + "/"

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
        await _assert_every_chart_drew(page)
        await page.screenshot(
            path=str(_screenshot_path(tmp_path)),
            clip={"x": 0, "y": 0, "width": 1280, "height": 1620},
            full_page=True,
        )

        # The window picker changes the data.
        hour = await page.evaluate("window.devoraDashboard.state.data.timeseries")
        before = await _updates(page)
        await page.select_option("#window", "24h")
        await page.wait_for_selector('body[data-loaded-window="24h"]')
        await _wait_until(page, f"Number(document.body.dataset.updates) > {before}")
        day = await page.evaluate("window.devoraDashboard.state.data.timeseries")
        assert (hour["window"], day["window"]) == ("1h", "24h")
        assert hour["bucket_seconds"] < day["bucket_seconds"] and hour["t"] != day["t"]
        assert sum(day["series"]["requests"]) > sum(hour["series"]["requests"])
        chart_x = await page.evaluate("window.devoraDashboard.charts.requests.data[0]")
        assert chart_x == day["t"]
        assert "window=24h" in page.url
        await _assert_every_chart_drew(page)

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
        await _assert_every_chart_drew(page)
        await page.set_viewport_size({"width": 390, "height": 844})
        await _wait_until(page, "window.devoraDashboard.charts.requests.width <= 390")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"

        await context.close()
    assert problems == [], problems
    assert foreign == [], f"the page asked other hosts: {foreign}"
