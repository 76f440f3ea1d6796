"""call_spec: the common call (no options) builds the same request as ChatRequest's own
constructor, with its defaults and dicts of its own; bad per-call values are refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.calls.call_options import call_spec
from ai.calls.config import NUMBER_RANGES, LLMConfig
from ai.core.records import CallLabels
from ai.errors import ConfigurationError
from ai.providers.base import ChatRequest

MESSAGES = [{"role": "user", "content": "Hi"}]


def test_a_call_without_options_builds_the_constructors_request() -> None:
    config = LLMConfig(api_key="sk-test", model="gpt-4o-mini", temperature=0.2, max_tokens=50)
    spec = call_spec(config, MESSAGES, {})
    assert spec.request == ChatRequest("gpt-4o-mini", MESSAGES, 0.2, 50)
    assert spec.labels == CallLabels()
    assert (spec.timeout, spec.cache) == (float(config.timeout), None)
    with_options = call_spec(config, MESSAGES, {"model": "gpt-4o-mini"})
    assert with_options.request == spec.request and with_options.defaults == spec.defaults


def test_each_call_gets_its_own_dicts() -> None:
    config = LLMConfig(api_key="sk-test")
    first, second = call_spec(config, MESSAGES, {}), call_spec(config, MESSAGES, {})
    assert first.request.extra is not second.request.extra
    assert first.request.options is not second.request.options
    assert first.labels.tags is not second.labels.tags


CALL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)


@given(name=st.sampled_from(["timeout", "temperature", "max_tokens"]), value=CALL_VALUES)
def test_any_per_call_number_is_taken_or_a_configuration_error(name: str, value: Any) -> None:
    """Checked when the call is made: a NaN deadline or a string never reaches the call
    machinery (where it was a raw ValueError recorded as `unexpected`)."""
    config = LLMConfig(api_key="sk-test")
    if value is not None and not NUMBER_RANGES[name].admits(value):
        with pytest.raises(ConfigurationError, match=name):
            call_spec(config, MESSAGES, {name: value})
        return
    spec = call_spec(config, MESSAGES, {name: value})
    taken = spec.timeout if name == "timeout" else getattr(spec.request, name)
    assert taken == (getattr(config, name) if value is None else value)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": "abc"}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"temperature": "0.5"}, "temperature"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"model": 5}, "model"),
        ({"cache": 3}, "cache"),
    ],
)
def test_bad_per_call_values_name_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        call_spec(LLMConfig(api_key="sk-test"), MESSAGES, options)
