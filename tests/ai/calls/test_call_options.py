"""call_spec: the common call (no options) builds the same request as ChatRequest's own
constructor, with its defaults and dicts of its own."""

from __future__ import annotations

from ai.calls.call_options import call_spec
from ai.calls.config import LLMConfig
from ai.core.records import CallLabels
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
