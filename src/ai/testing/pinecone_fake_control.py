"""HTTP control of a running fake Pinecone, for `devora fake-pinecone` users:

    POST   /_fake/faults    {"kind": "rate_limit", "retry_after": 2, "times": 1,
                             "operation": "query", "every": 1}  -> 201 + the rule
    GET    /_fake/faults    the rules, with their counters
    DELETE /_fake/faults    remove every rule
    GET    /_fake/requests  the request log (`Api-Key` masked)
    POST   /_fake/reset     clear faults, the log, every vector and created indexes
    GET    /_fake/health    {"status": "ok"}

No API key needed: the fake listens on loopback and holds nothing worth protecting.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.testing.pinecone_state import PineconeState, describe_rule
from ai.testing.wire import json_response


def fake_control_routes(state: PineconeState) -> list[Route]:
    """The `/_fake/*` routes over `state`."""

    async def add_fault(request: Request) -> Response:
        raw = await request.body()
        try:
            rule = state.faults.add_json(json.loads(raw) if raw else None)
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        return json_response({"rule": describe_rule(rule)}, 201)

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": state.faults.describe()})

    async def clear_faults(request: Request) -> Response:
        return json_response({"cleared": state.faults.clear()})

    async def requests(request: Request) -> Response:
        return json_response({"requests": [r.describe() for r in state.requests.snapshot()]})

    async def reset(request: Request) -> Response:
        state.reset()
        return json_response({"status": "reset"})

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    return [
        Route("/_fake/faults", add_fault, methods=["POST"]),
        Route("/_fake/faults", list_faults, methods=["GET"]),
        Route("/_fake/faults", clear_faults, methods=["DELETE"]),
        Route("/_fake/requests", requests, methods=["GET"]),
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/health", health, methods=["GET"]),
    ]
