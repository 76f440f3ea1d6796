"""Cache keys: equal requests give equal keys, any answer-changing difference a new one."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.cache.keys import UnkeyableRequest, request_key, semantic_scope
from ai.providers.base import ChatRequest

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def request(**changes: object) -> ChatRequest:
    base = ChatRequest(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.0,
        max_tokens=100,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@given(extra=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_key_ignores_dict_order(extra: dict[str, object]) -> None:
    reordered = dict(reversed(list(extra.items())))
    assert request_key("openai", request(extra=extra)) == request_key(
        "openai", request(extra=reordered)
    )


def test_integer_and_float_temperatures_share_a_key() -> None:
    assert request_key("openai", request(temperature=0)) == request_key(
        "openai", request(temperature=0.0)
    )


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"temperature": 0.5},
        {"max_tokens": 101},
        {"messages": [{"role": "user", "content": "Hi!"}]},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "required"},
        {"extra": {"seed": 1}},
    ],
)
def test_every_answer_changing_field_changes_the_key(change: dict[str, object]) -> None:
    assert request_key("openai", request()) != request_key("openai", request(**change))


def test_provider_is_part_of_the_key() -> None:
    assert request_key("openai", request()) != request_key("openrouter", request())


@given(first=st.text(max_size=12), second=st.text(max_size=12))
def test_namespaces_keep_keys_apart_and_the_shared_one_keeps_the_old_keys(
    first: str, second: str
) -> None:
    keys = {name: request_key("openai", request(), name) for name in (first, second)}
    assert (keys[first] == keys[second]) is (first == second)
    assert request_key("openai", request(), "") == request_key("openai", request())
    scopes = {name: semantic_scope("openai", request(), name) for name in (first, second)}
    assert (scopes[first] == scopes[second]) is (first == second)


def test_unserialisable_requests_are_unkeyable() -> None:
    with pytest.raises(UnkeyableRequest):
        request_key("openai", request(extra={"callback": object()}))
    with pytest.raises(UnkeyableRequest):
        request_key("openai", request(extra={"x": float("nan")}))


def test_a_circular_message_is_unkeyable_and_leaves_the_encoder_as_it_was() -> None:
    """The reused JSON encoder keeps no table of what it has seen, so a circular value
    (which ends in RecursionError) leaves nothing behind for the next request."""
    looped: dict[str, object] = {"role": "user", "content": "Hi"}
    looped["self"] = looped
    before = request_key("openai", request())
    with pytest.raises(UnkeyableRequest):
        request_key("openai", request(messages=[looped]))
    assert request_key("openai", request()) == before


def test_semantic_scope_separates_the_last_user_message() -> None:
    scope_a, text_a = semantic_scope("openai", request()) or ("", "")
    other = request(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    )
    scope_b, text_b = semantic_scope("openai", other) or ("", "")
    assert scope_a == scope_b and (text_a, text_b) == ("Hi", "Hello")
    new_system = request(
        messages=[{"role": "system", "content": "Be long."}, {"role": "user", "content": "Hi"}]
    )
    assert semantic_scope("openai", new_system) is not None
    assert semantic_scope("openai", new_system)[0] != scope_a  # type: ignore[index]


def test_no_semantic_scope_without_plain_user_text() -> None:
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert semantic_scope("openai", request(messages=image)) is None
    assert semantic_scope("openai", request(messages=[{"role": "system", "content": "x"}])) is None


@given(
    provider=st.text(max_size=10),
    model=st.text(min_size=1, max_size=12),
    content=json_values,
    temperature=st.one_of(st.none(), st.integers(0, 2), st.floats(0, 2)),
    max_tokens=st.one_of(st.none(), st.booleans(), st.integers(1, 2**70)),
    tools=st.one_of(st.none(), st.lists(st.dictionaries(st.text(max_size=5), json_values))),
    tool_choice=st.one_of(st.none(), st.text(max_size=5), st.dictionaries(st.text(), json_scalars)),
    extra=st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    options=st.dictionaries(st.sampled_from(["top_p", "stop", "seed"]), json_values, max_size=3),
)
def test_the_key_hashes_the_canonical_json_of_the_whole_request(
    provider: str,
    model: str,
    content: object,
    temperature: float | None,
    max_tokens: int | None,
    tools: list[dict[str, object]] | None,
    tool_choice: object,
    extra: dict[str, object],
    options: dict[str, object],
) -> None:
    """The key is written field by field for speed; it stays the hash of one canonical
    JSON text of everything that changes the answer (so keys are stable across versions)."""
    chat = request(
        model=model,
        messages=[{"role": "user", "content": content}],
        temperature=temperature,
        max_tokens=max_tokens,
        tools=tools,
        tool_choice=tool_choice,
        extra=extra,
        options=options,
    )
    payload = {
        "provider": provider,
        "model": model,
        "messages": list(chat.messages),
        "temperature": None if temperature is None else float(temperature),
        "max_tokens": max_tokens,
        "tools": _ints_for_integral_floats(list(tools)) if tools else None,
        "tool_choice": _ints_for_integral_floats(tool_choice),
        "extra": _ints_for_integral_floats(extra),
        "options": _ints_for_integral_floats(options),
    }
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert request_key(provider, chat) == f"v3:{expected}"


def _ints_for_integral_floats(value: object) -> object:
    """The key's rule for parameter values, written out independently: 1.0 is written 1."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _ints_for_integral_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints_for_integral_floats(item) for item in value]
    return value


def _same_numbers_other_type(value: object, to_float: bool) -> object:
    """`value` with its numbers retyped but equal: ints as floats (those a float holds
    exactly) or integral floats as ints. Bools are left alone."""
    if to_float and type(value) is int and abs(value) <= 2**53:
        return float(value)
    if not to_float and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _same_numbers_other_type(item, to_float) for key, item in value.items()}
    if isinstance(value, list):
        return [_same_numbers_other_type(item, to_float) for item in value]
    return value


@given(
    options=st.dictionaries(st.sampled_from(["top_p", "stop", "seed"]), json_values, max_size=3),
    extra=st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    tools=st.lists(st.dictionaries(st.text(max_size=5), json_values), max_size=2),
    to_float=st.booleans(),
)
def test_requests_equal_as_json_numbers_share_a_key(
    options: dict[str, object], extra: dict[str, object], tools: list[object], to_float: bool
) -> None:
    """`top_p=1` and `top_p=1.0` (in options, extra or tools) are one request to the
    provider, so they are one cache entry."""
    original = request(options=options, extra=extra, tools=tools or None)
    retyped = request(
        options=_same_numbers_other_type(options, to_float),
        extra=_same_numbers_other_type(extra, to_float),
        tools=_same_numbers_other_type(tools, to_float) or None,
    )
    assert request_key("openai", original) == request_key("openai", retyped)
    assert semantic_scope("openai", original) == semantic_scope("openai", retyped)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"top_p": 1}, {"top_p": 1.0}),
        ({"seed": 7}, {"seed": 7.0}),
        ({"top_p": 0}, {"top_p": -0.0}),
        ({"stop": [1, 2.0]}, {"stop": [1.0, 2]}),
    ],
)
def test_an_int_and_an_equal_float_share_a_key(
    first: dict[str, object], second: dict[str, object]
) -> None:
    assert request_key("openai", request(options=first)) == request_key(
        "openai", request(options=second)
    )
    assert request_key("openai", request(extra=first)) == request_key(
        "openai", request(extra=second)
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"top_p": True}, {"top_p": 1}),
        ({"top_p": 1}, {"top_p": 1.5}),
        ({"seed": 2**60 + 1}, {"seed": float(2**60)}),
    ],
)
def test_different_values_keep_different_keys(
    first: dict[str, object], second: dict[str, object]
) -> None:
    """A bool is not a number here, and a large seed is not rounded to a float."""
    assert request_key("openai", request(options=first)) != request_key(
        "openai", request(options=second)
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_unkeyable_wherever_they_are(value: float) -> None:
    for change in (
        {"temperature": value},
        {"extra": {"x": value}},
        {"options": {"top_p": value}},
        {"messages": [{"role": "user", "content": value}]},
    ):
        with pytest.raises(UnkeyableRequest):
            request_key("openai", request(**change))
