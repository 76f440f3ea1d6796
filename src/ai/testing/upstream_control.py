"""HTTP control of the realistic-upstream settings, for `devora fake-provider` users.

    POST   /_fake/latency   {"model": "gpt-4o", "ttft": 0.45, "tokens_per_second": 60,
                             "min_gap": 0.02}          -> 201 + the model's latency
    GET    /_fake/latency   {"latency": {model: {...}}}
    DELETE /_fake/latency   every model answers at once again (?model=NAME: that one)
    POST   /_fake/lengths   {"seed": 7, "default": {"median": 150, "sigma": 0.8},
                             "rules": [{"contains": "Summarise", "median": 129}]} -> 201
    GET    /_fake/lengths   the length model, or {"lengths": null}
    DELETE /_fake/lengths   back to the usual short answers

Faults at a rate or in a time window go through `POST /_fake/faults` (`fault_schedule`).
These settings are configuration, like the model list: `POST /_fake/reset` keeps them.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.testing.latency import latency_from_json
from ai.testing.reply_lengths import lengths_from_json
from ai.testing.state import FakeState
from ai.testing.wire import json_response


async def _body(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def upstream_routes(state: FakeState) -> list[Route]:
    """The `/_fake/latency` and `/_fake/lengths` routes over `state`."""

    async def set_latency(request: Request) -> Response:
        try:
            model, latency = latency_from_json(await _body(request))
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        state.latency.set(model, latency)
        return json_response({"model": model, "latency": latency.describe()}, 201)

    async def get_latency(request: Request) -> Response:
        return json_response({"latency": state.latency.describe()})

    async def clear_latency(request: Request) -> Response:
        model = request.query_params.get("model")
        if model is not None:
            return json_response({"cleared": int(state.latency.remove(model))})
        return json_response({"cleared": state.latency.clear()})

    async def set_lengths(request: Request) -> Response:
        try:
            lengths = lengths_from_json(await _body(request))
        except ValueError as error:
            return json_response({"error": str(error)}, 400)
        state.lengths = lengths
        return json_response({"lengths": lengths.describe()}, 201)

    async def get_lengths(request: Request) -> Response:
        lengths = state.lengths
        return json_response({"lengths": None if lengths is None else lengths.describe()})

    async def clear_lengths(request: Request) -> Response:
        cleared = state.lengths is not None
        state.lengths = None
        return json_response({"cleared": int(cleared)})

    return [
        Route("/_fake/latency", set_latency, methods=["POST"]),
        Route("/_fake/latency", get_latency, methods=["GET"]),
        Route("/_fake/latency", clear_latency, methods=["DELETE"]),
        Route("/_fake/lengths", set_lengths, methods=["POST"]),
        Route("/_fake/lengths", get_lengths, methods=["GET"]),
        Route("/_fake/lengths", clear_lengths, methods=["DELETE"]),
    ]
