"""Who may see the dashboard: the admin key on every page and API call, a login form that
sets the key's cookie, and the headers that keep the page to itself.

- API calls present the key as `Authorization: Bearer <key>` or `X-Admin-Key: <key>`, or
  carry the cookie the login form set (`ml_ops.web.admin`); without it they get 401.
- The page without the key is redirected to `login`. The form posts the key; a right key
  sets the `devora_admin` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to
  the dashboard's path) and redirects to the page; a wrong one shows the form again (401).
  The cookie holds a session signed with the key (`AdminKey.session`), never the key, and
  the server refuses it once `cookie_max_age` has passed.
- A state-changing call (acknowledging an alert) authenticated only by the cookie must
  also send `X-Requested-With: devora-dashboard`, a header a cross-site form cannot set;
  together with SameSite=Strict this stops cross-site requests riding on the cookie.
- Every response carries a strict Content-Security-Policy (scripts, styles and fetches
  from this origin only: nothing is loaded from elsewhere), `X-Frame-Options: DENY`,
  `nosniff` and `Referrer-Policy: no-referrer`; pages and API answers are `no-store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_ops.web import AdminKey, json_response, require_admin
from ml_ops.web.admin import COOKIE_NAME

CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "devora-dashboard"
MAX_FORM_BYTES = 4096
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)

Endpoint = Callable[[Request], Awaitable[Response]]


def base_path(connection: HTTPConnection) -> str:
    """Where the dashboard is mounted (`""` at the root, `"/dashboard"` under a Mount)."""
    return str(connection.scope.get("root_path", "")).rstrip("/")


def unauthorized() -> Response:
    """401 for an API call without the admin key."""
    return json_response(
        {"error": "admin key required: send Authorization: Bearer <key> or log in"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="devora"'},
    )


def header_authenticated(connection: HTTPConnection, key: AdminKey) -> bool:
    """Whether the admin key itself came in a header, not only the login cookie. (Any
    `Authorization` header is not enough: a browser adds cached Basic credentials of a
    proxy in front of the dashboard by itself.)"""
    return require_admin(connection, key, cookie=False)


def api_guard(key: AdminKey, endpoint: Endpoint, *, changes_state: bool = False) -> Endpoint:
    """`endpoint` behind the admin key (401 without it); see the module docstring for the
    extra header a cookie-authenticated state change needs."""

    async def guarded(request: Request) -> Response:
        if not require_admin(request, key):
            return unauthorized()
        if (
            changes_state
            and not header_authenticated(request, key)
            and request.headers.get(CSRF_HEADER) != CSRF_VALUE
        ):
            return json_response(
                {"error": f"send the header X-Requested-With: {CSRF_VALUE}"}, status=403
            )
        return await endpoint(request)

    return guarded


def page_guard(key: AdminKey, endpoint: Endpoint) -> Endpoint:
    """`endpoint` (an HTML page) behind the admin key: without it, a redirect to login."""

    async def guarded(request: Request) -> Response:
        if not require_admin(request, key):
            return RedirectResponse(f"{base_path(request)}/login", status_code=303)
        return await endpoint(request)

    return guarded


async def submitted_key(request: Request) -> str | None:
    """The `key` field of a posted form (URL-encoded, at most `MAX_FORM_BYTES`)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    values = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=8)
    found = values.get("key")
    return found[0].strip() if found else None


def with_login_cookie(response: Response, request: Request, session: str, max_age: int) -> Response:
    """Set the admin cookie to `session` (`AdminKey.session`) on `response` (see the
    module docstring)."""
    response.set_cookie(
        COOKIE_NAME,
        session,
        max_age=max_age,
        path=base_path(request) or "/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


def without_login_cookie(response: Response, request: Request) -> Response:
    """Clear the admin cookie on `response`."""
    response.delete_cookie(
        COOKIE_NAME,
        path=base_path(request) or "/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every response, and `no-store` to any
    response that did not set its own `Cache-Control` (static files set theirs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"cache-control" not in present and b"etag" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
