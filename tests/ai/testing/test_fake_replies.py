"""Answer composition and fault rules as plain functions, without a server."""

from __future__ import annotations

import json

import pytest

from ai.testing import Fault, FaultBook
from ai.testing.catalogue import Api
from ai.testing.faults import fault_rule_from_json
from ai.testing.replies import (
    Finish,
    ToolSpec,
    Turn,
    compose,
    example_from_schema,
    json_fragments,
)


def test_example_from_schema_fills_required_properties() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "nested": {"$ref": "#/$defs/Inner"},
            "optional": {"type": "string"},
        },
        "required": ["name", "count", "ratio", "ok", "tags", "kind", "maybe", "nested"],
        "$defs": {
            "Inner": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
        },
    }
    assert example_from_schema(schema) == {
        "name": "example",
        "count": 1,
        "ratio": 1,
        "ok": True,
        "tags": ["example"],
        "kind": "a",
        "maybe": 1,
        "nested": {"x": "example"},
    }


def test_self_referencing_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/Node"}},
                "required": ["next"],
            }
        },
    }
    assert isinstance(example_from_schema(schema), dict)


def test_compose_precedence() -> None:
    tools = (ToolSpec("first", {}), ToolSpec("second", {"type": "object"}))
    turn = Turn(model="m", user_text="hi", tools=tools, forced_tool="second")
    call = compose(turn, None)
    assert call.finish is Finish.TOOL
    assert call.tool_call is not None
    assert call.tool_call.name == "second"
    assert compose(turn, "pushed").text == "pushed"
    assert (
        compose(Turn(model="m", user_text="hi", tools=tools, tools_enabled=False), None).tool_call
        is None
    )
    answered = compose(Turn(model="m", user_text="hi", tools=tools, tool_result="42"), None)
    assert answered.text == "The tool returned: 42"
    as_json = compose(Turn(model="m", user_text="hi", json_object=True), None)
    assert json.loads(as_json.text)["reply"].startswith("Hello from the devora fake")


def test_json_fragments_rejoin() -> None:
    text = json.dumps({"city": "example", "days": 1})
    assert "".join(json_fragments(text)) == text
    assert len(json_fragments(text)) == 3
    assert json_fragments("") == []


def test_fault_book_rules() -> None:
    book = FaultBook()
    book.push(Fault.rate_limit(), api="anthropic")
    book.add(Fault.server_error(503), model="gpt-4o", times=2, every=2)
    assert book.take(Api.OPENAI, "gpt-4o-mini") is None
    assert book.take(Api.OPENAI, "gpt-4o") is None
    assert book.take(Api.OPENAI, "gpt-4o") == Fault.server_error(503)
    assert book.take(Api.ANTHROPIC, "claude-haiku-4-5") == Fault.rate_limit()
    assert book.take(Api.ANTHROPIC, "claude-haiku-4-5") is None
    assert len(book) == 1
    assert book.describe()[0]["fired"] == 1
    with pytest.raises(ValueError, match="times"):
        book.add(Fault.disconnect(), times=0)
    with pytest.raises(ValueError, match="every"):
        book.add(Fault.disconnect(), every=0)


def test_fault_rule_from_json_defaults_to_once() -> None:
    rule = fault_rule_from_json({"kind": "slow_first_byte", "delay": 0.5})
    assert (rule.fault, rule.times, rule.every) == (Fault.slow_first_byte(0.5), 1, 1)
    assert fault_rule_from_json({"kind": "disconnect", "times": None}).times is None
    with pytest.raises(ValueError, match="takes"):
        fault_rule_from_json({"kind": "disconnect", "delay": 1})
