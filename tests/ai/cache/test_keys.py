"""Cache keys: equal requests give equal keys, any answer-changing difference a new one."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.cache.keys import UnkeyableRequest, request_key, semantic_scope
from ai.providers.base import ChatRequest

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
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


def test_unserialisable_requests_are_unkeyable() -> None:
    with pytest.raises(UnkeyableRequest):
        request_key("openai", request(extra={"callback": object()}))
    with pytest.raises(UnkeyableRequest):
        request_key("openai", request(extra={"x": float("nan")}))


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
