"""HTTP control of a running fake, for `devora fake-provider` users and other languages.

    POST   /_fake/faults    {"kind": "rate_limit", "retry_after": 2, "times": 1,
                             "model": null, "api": null, "every": 1}  -> 201 + the rule
    GET    /_fake/faults    the rules, with their counters
    DELETE /_fake/faults    remove every rule
    POST   /_fake/replies   {"text": "..."}: the next completion answers exactly this
    GET    /_fake/requests  the request log (credentials masked)
    POST   /_fake/reset     clear faults, replies, the log and the prompt cache
    GET    /_fake/health    {"status": "ok"}
    /_fake/latency, /_fake/lengths: the realistic-upstream settings (upstream_control.py);
    a fault rule may also take "rate", "seed", "after", "until" (fault_schedule.py)

These need no API key: the fake listens on loopback and holds nothing worth protecting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.testing.fault_schedule import scheduled_rule_from_json
from ai.testing.state import FakeState
from ai.testing.upstream_control import upstream_routes
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


class _Faults(Protocol):
    def describe(self) -> list[dict[str, Any]]: ...
    def clear(self) -> int: ...


class _Described(Protocol):
    def describe(self) -> dict[str, Any]: ...


class _Requests(Protocol):
    def snapshot(self) -> Sequence[_Described]: ...


class ControlledState(Protocol):
    """What every fake's state offers the control routes."""

    @property
    def faults(self) -> _Faults: ...
    @property
    def requests(self) -> _Requests: ...
    def reset(self) -> None: ...


def build_control_routes(
    state: ControlledState,
    *,
    add_fault: Callable[[object], dict[str, Any]],
    extra: Sequence[Route] = (),
) -> list[Route]:
    """The `/_fake/*` routes shared by every fake; `add_fault` parses and stores one rule
    from a JSON body (raising ValueError) and returns its description."""

    async def add_fault_route(request: Request) -> Response:
        try:
            described = add_fault(await _json_body(request))
        except ValueError as error:
            return _bad_request(str(error))
        return json_response({"rule": described}, 201)

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
        Route("/_fake/faults", add_fault_route, methods=["POST"]),
        Route("/_fake/faults", list_faults, methods=["GET"]),
        Route("/_fake/faults", clear_faults, methods=["DELETE"]),
        *extra,
        Route("/_fake/requests", requests, methods=["GET"]),
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/health", health, methods=["GET"]),
    ]


def control_routes(state: FakeState) -> list[Route]:
    """The `/_fake/*` routes of the provider fake: the shared ones plus scripted replies."""

    def add_fault(body: object) -> dict[str, Any]:
        rule = scheduled_rule_from_json(body)
        state.faults.add_rule(rule)
        return rule.describe()

    async def push_reply(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return _bad_request('the body must be {"text": "<reply>"}')
        state.replies.push(body["text"])
        return json_response({"queued": len(state.replies)}, 201)

    replies = Route("/_fake/replies", push_reply, methods=["POST"])
    extra = [replies, *upstream_routes(state)]
    return build_control_routes(state, add_fault=add_fault, extra=extra)
