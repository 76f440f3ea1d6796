"""HTTP control of a running fake, for `devora fake-provider` users and other languages.

    POST   /_fake/faults    {"kind": "rate_limit", "retry_after": 2, "times": 1,
                             "model": null, "api": null, "every": 1}  -> 201 + the rule
    GET    /_fake/faults    the rules, with their counters
    DELETE /_fake/faults    remove every rule
    POST   /_fake/replies   {"text": "..."}: the next completion answers exactly this
    GET    /_fake/requests  the request log (credentials masked)
    POST   /_fake/reset     clear faults, replies, the log and the prompt cache
    GET    /_fake/health    {"status": "ok"}

These need no API key: the fake listens on loopback and holds nothing worth protecting.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.testing.faults import fault_rule_from_json
from ai.testing.state import FakeState
from ai.testing.wire import json_response


def _bad_request(message: str) -> Response:
    return json_response({"error": message}, 400)


async def _json_body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


def control_routes(state: FakeState) -> list[Route]:
    """The `/_fake/*` routes over `state`."""

    async def add_fault(request: Request) -> Response:
        try:
            rule = fault_rule_from_json(await _json_body(request))
        except ValueError as error:
            return _bad_request(str(error))
        state.faults.add_rule(rule)
        return json_response({"rule": rule.describe()}, 201)

    async def list_faults(request: Request) -> Response:
        return json_response({"faults": state.faults.describe()})

    async def clear_faults(request: Request) -> Response:
        return json_response({"cleared": state.faults.clear()})

    async def push_reply(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return _bad_request('the body must be {"text": "<reply>"}')
        state.replies.push(body["text"])
        return json_response({"queued": len(state.replies)}, 201)

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
        Route("/_fake/replies", push_reply, methods=["POST"]),
        Route("/_fake/requests", requests, methods=["GET"]),
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/health", health, methods=["GET"]),
    ]
