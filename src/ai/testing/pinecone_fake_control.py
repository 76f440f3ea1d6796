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

from typing import Any

from starlette.routing import Route

from ai.testing.control import build_control_routes
from ai.testing.pinecone_state import PineconeState, describe_rule


def fake_control_routes(state: PineconeState) -> list[Route]:
    """The `/_fake/*` routes over `state` (the shared set, with Pinecone's fault rules)."""

    def add_fault(body: object) -> dict[str, Any]:
        return describe_rule(state.faults.add_json(body))

    return build_control_routes(state, add_fault=add_fault)
