"""The front end ships with the package and loads nothing from elsewhere: every asset the
pages name exists, no file points at another host, and the vendored chart library keeps
its licence and version note."""

from __future__ import annotations

import re
from importlib import resources

PACKAGE = resources.files("ml_ops.dashboard")
OURS = ["static/dashboard.js", "static/dashboard.css", "static/theme.js",
        "templates/index.html", "templates/login.html"]  # fmt: skip


def read(path: str) -> str:
    return PACKAGE.joinpath(path).read_text("utf-8")


def test_every_asset_the_pages_name_exists() -> None:
    for template in ("templates/index.html", "templates/login.html"):
        for link in re.findall(r'(?:href|src)="(static/[^"]+)"', read(template)):
            assert PACKAGE.joinpath(link).is_file(), (template, link)


def test_nothing_is_fetched_from_another_host() -> None:
    for path in OURS:
        text = read(path)
        assert not re.search(r"https?://|//cdn|@import", text), path
    library = read("static/vendor/uplot/uPlot.iife.min.js")
    assert library.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert "fetch(" not in library and "XMLHttpRequest" not in library


def test_the_vendored_library_keeps_its_licence() -> None:
    assert "The MIT License" in read("static/vendor/uplot/LICENSE")
    note = read("static/vendor/uplot/README.md")
    assert "1.6.32" in note and "MIT" in note


def test_no_inline_script_or_style_for_the_strict_csp() -> None:
    for template in ("templates/index.html", "templates/login.html"):
        html = read(template)
        assert not re.search(r"<script>(?!\s*</script>)|<script(?![^>]*\bsrc=)[^>]*>", html)
        assert "<style" not in html and " style=" not in html and "onclick" not in html
