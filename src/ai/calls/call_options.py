"""The keyword arguments of `complete()` and `stream()`, checked and turned into a request.

One typed definition (`CallOptions`) serves both methods, so a parameter is added once.
Values left out come from `LLMConfig`; `CallSpec.defaults` remembers which of them are the
configuration's untouched defaults, so that fitting a request to a model may drop those
silently (`ai.providers.parameters`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from ai.calls.config import NUMBER_RANGES, LLMConfig
from ai.core.frozen import direct_constructor
from ai.core.records import CallLabels
from ai.errors import ConfigurationError
from ai.providers.base import ChatRequest, Message
from ai.providers.parameters import OPTION_NAMES


class CallOptions(TypedDict, total=False):
    """Per-call parameters of `LLMService.complete` and `LLMService.stream`.

    Named parameters (OpenAI's names, translated for each provider): `temperature`,
    `max_tokens`, `top_p`, `stop`, `seed`, `response_format` (`{"type": "json_object"}` or
    a JSON schema), `metadata`, `reasoning_effort` ("minimal", "low", "medium", "high"),
    `thinking_budget` (reasoning tokens; Anthropic's extended thinking), `tools`,
    `tool_choice`. `n` must be 1 (one answer per call). `timeout` replaces the configured
    deadline for this call. `extra` is sent verbatim. `user`, `agent` and `tags` label the
    record; `cache` is the cache mode ("use", "bypass", "refresh", "no-store");
    `cache_namespace` keeps this call's cached answers apart from other namespaces' (a
    team's, a tenant's; "", the default, is the one shared namespace).
    """

    model: str
    temperature: float
    max_tokens: int
    top_p: float
    stop: str | Sequence[str]
    seed: int
    response_format: Mapping[str, Any]
    metadata: Mapping[str, str]
    reasoning_effort: str
    thinking_budget: int
    n: int
    timeout: float
    tools: Sequence[Mapping[str, Any]]
    tool_choice: str | Mapping[str, Any]
    extra: Mapping[str, Any]
    user: str
    agent: str
    tags: Mapping[str, str]
    cache: str
    cache_namespace: str


_KNOWN = frozenset(CallOptions.__annotations__)
_CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LLMConfig)}
_DEFAULTED = {
    (temperature, max_tokens): frozenset(
        name for name, kept in (("temperature", temperature), ("max_tokens", max_tokens)) if kept
    )
    for temperature in (False, True)
    for max_tokens in (False, True)
}


@dataclass(frozen=True, slots=True)
class CallSpec:
    """A call as its caller asked for it."""

    request: ChatRequest
    labels: CallLabels
    defaults: frozenset[str]
    timeout: float
    cache: str | None
    cache_namespace: str


#: The common call's objects, built by writing their slots (`ai.core.frozen`): every
#: call builds these three, cache hits included.
_new_request = direct_constructor(ChatRequest)
_new_labels = direct_constructor(CallLabels)
_new_spec = direct_constructor(CallSpec)


def call_spec(
    config: LLMConfig, messages: Sequence[Message], options: Mapping[str, Any]
) -> CallSpec:
    """Check `options` and build the request, filling what is left out from `config`."""
    # Most calls pass no options: the comprehension (a function call in 3.11) is skipped.
    given = {name: value for name, value in options.items() if value is not None} if options else {}
    if not given:  # the common call: everything from the configuration
        timeout = _timeout(config.timeout)
        # ChatRequest's defaults, spelled out (its dicts fresh, as its default_factory).
        request = _new_request(
            config.model,
            validate_messages(messages),
            config.temperature,
            config.max_tokens,
            False,
            None,
            None,
            {},
            {},
            "max_tokens",
        )
        return _new_spec(
            request, _new_labels(None, None, {}), _defaults(config, given), timeout, None, ""
        )
    _check(given)
    timeout = _timeout(given.get("timeout", config.timeout))
    request = ChatRequest(
        model=given.get("model") or config.model,
        messages=validate_messages(messages),
        temperature=given.get("temperature", config.temperature),
        max_tokens=given.get("max_tokens", config.max_tokens),
        tools=given.get("tools"),
        tool_choice=given.get("tool_choice"),
        extra=dict(given.get("extra") or ()),
        options={name: given[name] for name in OPTION_NAMES.intersection(given)},
    )
    labels = CallLabels(given.get("user"), given.get("agent"), dict(given.get("tags") or ()))
    namespace = given.get("cache_namespace", "")
    return CallSpec(
        request, labels, _defaults(config, given), timeout, given.get("cache"), namespace
    )


def _timeout(value: object) -> float:
    """The call's deadline in seconds: a finite number > 0 (a NaN or a string would fail
    only deep in the call, as an unexpected error)."""
    if type(value) is float and 0.0 < value < math.inf:  # the usual value, checked cheaply
        return value
    NUMBER_RANGES["timeout"].check("timeout", value, owner="complete()/stream()")
    return float(value)  # type: ignore[arg-type]


def _check(given: Mapping[str, Any]) -> None:
    unknown = sorted(set(given) - _KNOWN)
    if unknown:
        raise ConfigurationError(
            f"Unknown call parameter(s) {', '.join(unknown)}. Known: {', '.join(sorted(_KNOWN))};"
            " anything else goes in extra={...}, sent verbatim."
        )
    for name in ("temperature", "max_tokens"):
        if name in given:
            NUMBER_RANGES[name].check(name, given[name], owner="complete()/stream()")
    model = given.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigurationError(f"model must be a non-empty model name, got {model!r}.")
    cache = given.get("cache")
    if cache is not None and not isinstance(cache, str):
        raise ConfigurationError(f"cache must be a cache mode name, got {cache!r}.")
    namespace = given.get("cache_namespace", "")
    if not isinstance(namespace, str):
        raise ConfigurationError(f"cache_namespace must be a string, got {namespace!r}.")
    extra = given.get("extra") or {}
    n = given.get("n", extra.get("n", 1) if isinstance(extra, Mapping) else 1)
    if n != 1:  # through `extra` too: the call would pay for answers it never returns
        raise ConfigurationError(
            f"n={n}: complete() and stream() return one answer. For several, make several "
            "calls (asyncio.gather), with temperature > 0 and without the cache."
        )


def _defaults(config: LLMConfig, given: Mapping[str, Any]) -> frozenset[str]:
    """Which of temperature and max_tokens are the configuration's untouched defaults."""
    return _DEFAULTED[
        (
            "temperature" not in given and config.temperature == _CONFIG_DEFAULTS["temperature"],
            "max_tokens" not in given and config.max_tokens == _CONFIG_DEFAULTS["max_tokens"],
        )
    ]


def validate_messages(messages: Sequence[Message]) -> Sequence[Message]:
    """Catch the common shape mistakes before a network round trip."""
    if type(messages) is list and messages:  # the usual shape, checked without ABCs
        for message in messages:
            if type(message) is not dict or "role" not in message:
                break
        else:
            return messages
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise ConfigurationError(
            'messages must be a non-empty list like [{"role": "user", "content": "Hi"}].'
        )
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ConfigurationError(f"messages[{index}] must be a dict with a 'role' key.")
    return messages
