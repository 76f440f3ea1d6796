"""docs/dashboard.md keeps up with the code: every API route and every health component
is described, and the screenshot it shows exists."""

from __future__ import annotations

from pathlib import Path

from ml_ops.dashboard.api import ENDPOINTS
from ml_ops.dashboard.health import HealthThresholds

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "dashboard.md").read_text()


def test_every_route_is_in_the_api_table() -> None:
    for endpoint in ENDPOINTS:
        assert f"| {endpoint.method} | `/api{endpoint.path}" in DOC, endpoint.path
    for path in ("/metrics", "/healthz", "/readyz", "/api/openapi.json"):
        assert f"`{path}" in DOC, path


def test_every_health_component_and_threshold_is_described() -> None:
    for component in ("errors", "latency", "providers", "circuit_breakers", "budgets", "store",
                      "redis", "cache", "alerts"):  # fmt: skip
        assert f"| `{component}` |" in DOC, component
    for name in HealthThresholds.__dataclass_fields__:
        assert f"`{name}`" in DOC, name


def test_the_screenshot_exists_and_is_a_png() -> None:
    assert "(images/dashboard.png)" in DOC
    image = ROOT / "docs" / "images" / "dashboard.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size < 600_000
