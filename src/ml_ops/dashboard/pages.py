"""The two HTML pages, from the templates next to this module: the dashboard and the login
form. Values are HTML-escaped; nothing secret is ever put into a page (the page fetches its
data from the API with the cookie)."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ml_ops.dashboard.access import base_path


@cache
def _template(name: str) -> Template:
    text = resources.files("ml_ops.dashboard").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def _render(name: str, **values: str) -> str:
    return _template(name).substitute({key: html.escape(v) for key, v in values.items()})


def _options(windows: tuple[str, ...], chosen: str) -> str:
    return "".join(
        f'<option value="{html.escape(w)}"{" selected" if w == chosen else ""}>'
        f"{html.escape(w)}</option>"
        for w in windows
    )


def dashboard_page(
    request: Request,
    *,
    title: str,
    refresh_seconds: float,
    windows: tuple[str, ...],
    default_window: str = "1h",
) -> HTMLResponse:
    """The dashboard page; the window comes from `?window=` when it is a known one, else
    `default_window` when known, else `1h`, else the first window."""
    known = [w for w in (default_window, "1h") if w in windows]
    fallback = known[0] if known else windows[0]
    chosen = request.query_params.get("window", fallback)
    if chosen not in windows:
        chosen = fallback
    page = _template("index.html").substitute(
        title=html.escape(title),
        base=html.escape(base_path(request)),
        refresh_ms=str(int(refresh_seconds * 1000)),
        window=html.escape(chosen),
        window_options=_options(windows, chosen),
    )
    return HTMLResponse(page)


def login_page(request: Request, *, title: str, error: str = "", status: int = 200) -> HTMLResponse:
    """The login form (with `error` shown under the field)."""
    page = _render("login.html", title=title, base=base_path(request), error=error)
    return HTMLResponse(page, status_code=status)
