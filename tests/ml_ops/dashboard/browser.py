"""Headless Chromium (Debian's `chromium`, driven by Playwright) for the dashboard's browser
tests: the check that it is there, a watched page that records console errors and requests
to other hosts, the login, polling that the page's CSP allows, and the check that a chart
drew its lines. Used by tests/ml_ops/dashboard/test_browser.py (a seeded store) and
tests/ml_ops/demo/test_tour_browser.py (the tour's dashboard).

Chromium or Playwright missing: `require_browser` skips locally and fails under CI=true
(`tests.services.policy`). Playwright is imported only once it is known to be there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tests.services.policy import service_unavailable

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Error, Page, Request

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


def require_browser() -> None:
    """Skip (fail under CI) when Playwright or Chromium is missing; call it before any
    costly setup."""
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


@dataclass
class WatchedPage:
    """A page of `base_url` and what it did that a test must not see: console errors,
    uncaught exceptions, requests to any other host."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def on_page_error(self, error: Error) -> None:
        self.problems.append(str(error))

    def on_request(self, request: Request) -> None:
        if not request.url.startswith(self.base_url + "/"):
            self.foreign.append(request.url)

    def assert_clean(self) -> None:
        """The console stayed clean and nothing but `base_url` was asked for anything."""
        assert self.problems == [], self.problems
        assert self.foreign == [], f"the page asked other hosts: {self.foreign}"


@asynccontextmanager
async def chromium_page(
    profile: Path,
    base_url: str,
    *,
    width: int = 1280,
    height: int = 900,
    color_scheme: Literal["light", "dark"] = "light",
    scale: float = 1.0,
) -> AsyncIterator[WatchedPage]:
    """Headless Chromium with a fresh profile in `profile`, and its one page, watched;
    `scale` is the device pixel ratio (screenshots are `width * scale` pixels wide)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": width, "height": height}, color_scheme=color_scheme,
            device_scale_factor=scale,
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            watched = WatchedPage(page, base_url)
            page.on("console", watched.on_console)
            page.on("pageerror", watched.on_page_error)
            page.on("request", watched.on_request)
            yield watched
        finally:
            await context.close()


async def log_in(page: Page, base_url: str, key: str) -> None:
    """Open the dashboard, get sent to the login form, log in with the admin `key`, and wait
    for the first data."""
    await page.goto(base_url + "/")
    assert page.url == base_url + "/login"
    await page.fill("#key", key)
    await page.click("button[type=submit]")
    await page.wait_for_selector("body[data-updates]")
    assert page.url == base_url + "/"


async def wait_until(page: Page, expression: str) -> None:
    """Poll `expression` from here: `page.wait_for_function` polls with `eval` inside the
    page, which the page's CSP (no 'unsafe-eval') refuses whenever the first check fails."""
    for _ in range(TIMEOUT_MS // 50):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still false after {TIMEOUT_MS} ms: {expression}")


async def assert_every_chart_drew(page: Page) -> None:
    """Every chart exists, has data and axis labels, and drew its lines on the canvas."""
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


async def assert_routing_panel(page: Page) -> None:
    """The model routing panel shows the router's decisions, its saving, and a table row
    per route and per model."""
    routing = await page.evaluate("window.devoraDashboard.state.data.routing")
    assert routing["routed_calls"] > 0 and routing["savings"]["saving"] > 0, routing
    routed = page.locator('[data-card="routing-routed"] .card-value')
    assert int((await routed.inner_text()).replace(",", "")) == routing["routed_calls"]
    saving = await page.locator('[data-card="routing-saving"] .card-value').inner_text()
    assert saving.startswith("$") and float(saving[1:]) > 0
    assert routing["by_reason"] and routing["by_model"], routing
    assert await page.locator("#routing-reasons tbody tr").count() == len(routing["by_reason"])
    assert await page.locator("#routing-models tbody tr").count() == len(routing["by_model"])
    assert "decided by a router" in await page.locator("#routing-note").inner_text()
