"""The OpenAPI 3.1 document of the dashboard's API, written from `api.ENDPOINTS` (plus the
operational endpoints), and a minimal HTML page listing it (`/api/docs`)."""

from __future__ import annotations

import html
from typing import Any

from ml_ops import __version__
from ml_ops.dashboard.api import ENDPOINTS, ApiEndpoint, Param

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "The admin key."},
    "adminKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Admin-Key"},
    "adminCookie": {"type": "apiKey", "in": "cookie", "name": "devora_admin"},
}
_SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"adminKeyHeader": []}, {"adminCookie": []}]
OPERATIONAL: tuple[tuple[str, str, str, bool], ...] = (
    ("/metrics", "getMetrics", "Prometheus text exposition of the monitor.", True),
    ("/healthz", "getLiveness", "Liveness: 200 while the process serves requests.", False),
    ("/readyz", "getReadiness", "Readiness: 200 when the store and Redis answer, else 503.", False),
)  # fmt: skip


def _parameter(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.kind}
    if param.default is not None:
        schema["default"] = param.default
    return {
        "name": param.name,
        "in": param.where,
        "required": param.where == "path",
        "description": param.description,
        "schema": schema,
    }


def _json_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {}}}}


def _operation(endpoint: ApiEndpoint) -> dict[str, Any]:
    responses = {
        "200": _json_response("OK"),
        "400": _json_response("A parameter is not valid."),
        "401": _json_response("The admin key is missing or wrong."),
    }
    if any(p.where == "path" for p in endpoint.params):
        responses["404"] = _json_response("Not found.")
    if endpoint.changes_state:
        responses["403"] = _json_response("A cookie session without X-Requested-With.")
    return {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "parameters": [_parameter(p) for p in endpoint.params],
        "responses": responses,
        "security": _SECURED,
    }


def openapi_document(*, metrics_public: bool = False) -> dict[str, Any]:
    """The document; paths are relative to where the dashboard is mounted."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(f"/api{endpoint.path}", {})[endpoint.method.lower()] = _operation(endpoint)
    for path, name, summary, secured in OPERATIONAL:
        operation: dict[str, Any] = {
            "operationId": name,
            "summary": summary,
            "responses": {"200": {"description": "OK"}},
        }
        if secured and not metrics_public:
            operation["security"] = _SECURED
        paths[path] = {"get": operation}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Devora dashboard API",
            "version": __version__,
            "description": "Read-only views of monitoring, costs, model routing, "
            "experiments, alerts and health, and alert acknowledgement. See docs/dashboard.md.",
        },
        "paths": paths,
        "components": {"securitySchemes": SECURITY_SCHEMES},
    }


def docs_html(document: dict[str, Any]) -> str:
    """A plain page listing every operation of `document`, its parameters and summary."""
    rows = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = ", ".join(f"{p['name']} ({p['in']})" for p in operation.get("parameters", []))
            cells = (method.upper(), path, params, operation["summary"])
            method_cell, path_cell, params_cell, what = (html.escape(c) for c in cells)
            rows.append(
                f"<tr><td><code>{method_cell}</code></td><td><code>{path_cell}</code></td>"
                f"<td>{params_cell}</td><td>{what}</td></tr>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Devora dashboard API</title>"
        '<link rel="icon" href="../static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="../static/dashboard.css"></head>'
        '<body class="docs"><main><h1>Devora dashboard API</h1>'
        '<p>Machine-readable: <a href="openapi.json">openapi.json</a>. Every <code>/api</code> '
        "call needs the admin key: <code>Authorization: Bearer &lt;key&gt;</code>, "
        "<code>X-Admin-Key</code>, or the cookie the login form sets.</p>"
        '<table class="table"><thead><tr><th>Method</th><th>Path</th><th>Parameters</th>'
        f"<th>What</th></tr></thead><tbody>{''.join(rows)}</tbody></table></main></body></html>"
    )
