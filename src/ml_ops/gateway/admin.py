"""The admin endpoints for keys, guarded by the admin key (`ml_ops.web.require_admin`):

    POST   /admin/keys            {"user", "team", "agent", "name", "budget": "10/day",
                                   "rpm", "tpm", "models": [...], "expires": "30d"}
                                  -> 201 with "key" (shown this once) and the key's record
    GET    /admin/keys            -> {"keys": [records]}       (never a key or a digest)
    DELETE /admin/keys/{key_id}   -> the revoked key's record

The admin key must come in a header (`Authorization: Bearer` or `X-Admin-Key`); the
dashboard's login cookie is not accepted here. The created key is the one value ever sent
back in clear; every other answer goes through `ml_ops.web.json_response`, which masks
anything shaped like a key.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.errors import ConfigurationError, StoreError
from ai.providers.openai_serving import OpenAIRequestError
from ml_ops.gateway.asgi import parse_json_body
from ml_ops.gateway.key_manager import KeyManager, key_request_from_json
from ml_ops.web import AdminKey, json_response, require_admin


def admin_routes(manager: Callable[[], KeyManager], admin_key: AdminKey) -> list[Route]:
    """The three routes; `manager` gives the (started) gateway's `KeyManager`."""

    def refused(request: Request) -> Response | None:
        # The key in a header only: the dashboard's login cookie (same host under `devora
        # serve`) would let any page of the same site create and revoke keys (CSRF).
        if require_admin(request, admin_key, cookie=False):
            return None
        message = "Admin key required: send Authorization: Bearer <key> or X-Admin-Key: <key>."
        return json_response({"error": {"message": message, "type": "invalid_request_error"}}, 401)

    async def create(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            key_request = key_request_from_json(parse_json_body(await request.body() or b"null"))
            key, record = await manager().create(key_request)
        except OpenAIRequestError as error:
            return _bad_request(error.message)
        except ConfigurationError as error:
            return _bad_request(str(error))
        except StoreError as error:
            return json_response({"error": {"message": str(error), "type": "server_error"}}, 503)
        body = json.dumps({"key": key, **record.describe()}, separators=(",", ":"))
        return Response(body, status_code=201, media_type="application/json")

    async def listing(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        keys = await manager().list()
        return json_response({"keys": [key.describe() for key in keys]})

    async def revoke(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            record = await manager().revoke(request.path_params["key_id"])
        except ConfigurationError as error:
            return json_response({"error": {"message": str(error), "type": "not_found"}}, 404)
        return json_response(record.describe())

    return [
        Route("/admin/keys", create, methods=["POST"]),
        Route("/admin/keys", listing, methods=["GET"]),
        Route("/admin/keys/{key_id}", revoke, methods=["DELETE"]),
    ]


def _bad_request(message: str) -> Response:
    return json_response({"error": {"message": message, "type": "invalid_request_error"}}, 400)
