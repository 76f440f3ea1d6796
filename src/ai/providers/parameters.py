"""Fitting a call's parameters to the model that will answer it.

A call names its parameters once, the OpenAI way (`temperature`, `max_tokens`, `top_p`,
`stop`, `seed`, `response_format`, `metadata`, `reasoning_effort`) plus
`thinking_budget` for a reasoning token budget. `fit_request` then makes the request one
the model accepts, using its `ModelCapabilities`:

- translate what has a translation: an effort becomes a thinking budget for Anthropic and
  a budget an effort for OpenAI; the output limit goes under the name the model takes
  (`max_completion_tokens` for OpenAI's reasoning models);
- drop what the model refuses. A value that came from the configuration's defaults (the
  spec's `temperature=0.7` given to o3) is dropped silently; one the caller chose is
  handled by the `UnsupportedParams` setting: dropped, dropped with a warning (the
  default, as LiteLLM's `drop_params` does), or refused with `ConfigurationError`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from ai.errors import ConfigurationError
from ai.providers.base import ChatRequest
from ai.providers.capabilities import ModelCapabilities, ReasoningControl

logger = logging.getLogger("ai.llm_service")

OPTION_NAMES = frozenset(
    {"top_p", "stop", "seed", "response_format", "metadata", "reasoning_effort", "thinking_budget"}
)
"""Named call parameters carried in `ChatRequest.options` (besides temperature and max_tokens)."""

EFFORT_BUDGETS = {"none": 0, "minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
"""Thinking budget (tokens) an effort level stands for, where the model takes a budget."""

MIN_THINKING_BUDGET = 1024
_REASONING_OPTIONS = frozenset({"reasoning_effort", "thinking_budget"})


class UnsupportedParams(StrEnum):
    """What to do with a parameter the caller set but the model does not accept."""

    DROP = "drop"  # leave it out silently
    WARN = "warn"  # leave it out and log a warning (once per model and parameter)
    ERROR = "error"  # raise ConfigurationError before anything is sent


def budget_effort(budget: int, efforts: Iterable[str] = EFFORT_BUDGETS) -> str:
    """The smallest of `efforts` whose budget covers `budget` (else the largest)."""
    levels = [effort for effort in EFFORT_BUDGETS if effort in set(efforts)] or ["high"]
    for effort in levels:
        if budget <= EFFORT_BUDGETS[effort]:
            return effort
    return levels[-1]


def fit_request(
    request: ChatRequest,
    caps: ModelCapabilities,
    *,
    policy: UnsupportedParams,
    defaults: frozenset[str],
    warn: Callable[[str, str], None],
) -> ChatRequest:
    """`request` as the model described by `caps` accepts it (see the module docstring).

    `defaults` names the parameters whose values came from configuration defaults;
    `warn(model, parameter)` is called for each dropped parameter under the WARN policy.
    """
    options = dict(request.options)
    values: dict[str, Any] = {"temperature": request.temperature, **options}

    def refuse(name: str, why: str) -> None:
        values.pop(name, None)
        if name in defaults or policy is UnsupportedParams.DROP:
            return
        if policy is UnsupportedParams.ERROR:
            raise ConfigurationError(
                f"{request.model!r} does not take `{name}` ({why}). Remove it, or set "
                "LLMConfig(unsupported_params='drop') to leave such parameters out."
            )
        warn(request.model, f"{name} ({why})")

    _fit_reasoning(request, caps, values, refuse)
    for name in caps.rejects & {k for k, v in values.items() if v is not None}:
        refuse(name, "not supported by this model")
    max_tokens = _fit_max_tokens(request, values.get("thinking_budget"), defaults)
    temperature = values.pop("temperature", None)
    return dataclasses.replace(
        request,
        temperature=temperature,
        max_tokens=max_tokens,
        max_tokens_field=caps.max_tokens_name,
        options={k: v for k, v in values.items() if v is not None},
    )


def fitted_max_tokens(
    request: ChatRequest, caps: ModelCapabilities, *, defaults: frozenset[str]
) -> int | None:
    """The `max_tokens` that `fit_request` sends `request` with to the model of `caps`.

    A thinking budget raises a default limit above it, so this can exceed
    `request.max_tokens`; it is what a call is planned (and a budget guard prices it)
    with. A request that fitting would refuse keeps its own limit here: the error comes
    when it is sent."""
    if not _REASONING_OPTIONS & request.options.keys():  # nothing else changes the limit
        return request.max_tokens
    try:
        fitted = fit_request(
            request, caps, policy=UnsupportedParams.DROP, defaults=defaults, warn=_ignore
        )
    except ConfigurationError:
        return request.max_tokens
    return fitted.max_tokens


def _ignore(model: str, what: str) -> None:
    return None


def _fit_reasoning(
    request: ChatRequest,
    caps: ModelCapabilities,
    values: dict[str, Any],
    refuse: Callable[[str, str], None],
) -> None:
    effort, budget = values.get("reasoning_effort"), values.get("thinking_budget")
    if effort is None and budget is None:
        return
    control = caps.reasoning_control
    if control is None:
        for name in ("reasoning_effort", "thinking_budget"):
            if values.get(name) is not None:
                refuse(name, "the model's reasoning cannot be steered")
        return
    if control is ReasoningControl.EFFORT:
        values.pop("thinking_budget", None)
        effort = effort if effort is not None else budget_effort(int(budget or 0), caps.efforts)
        if effort not in caps.efforts:
            raise ConfigurationError(
                f"reasoning_effort={effort!r} is not one of {sorted(caps.efforts)} for "
                f"{request.model!r}."
            )
        values["reasoning_effort"] = effort
    elif control is ReasoningControl.BUDGET:
        values.pop("reasoning_effort", None)
        if effort == "none" and budget is None:  # no reasoning asked for: no thinking
            return
        budget = budget if budget is not None else EFFORT_BUDGETS.get(str(effort))
        if budget is None or budget < MIN_THINKING_BUDGET:
            raise ConfigurationError(
                f"thinking_budget must be >= {MIN_THINKING_BUDGET} tokens for {request.model!r}"
                f" (or reasoning_effort one of {sorted(EFFORT_BUDGETS)}), got {budget!r}."
            )
        values["thinking_budget"] = int(budget)
        if values.get("temperature") not in (None, 1, 1.0):
            refuse("temperature", "extended thinking runs at temperature 1")
        top_p = values.get("top_p")
        if top_p is not None and top_p < 0.95:
            refuse("top_p", "extended thinking takes top_p >= 0.95 only")


def _fit_max_tokens(
    request: ChatRequest, budget: int | None, defaults: frozenset[str]
) -> int | None:
    """A thinking budget must leave room for the answer: the output limit must exceed it."""
    max_tokens = request.max_tokens
    if budget is None or max_tokens is None or max_tokens > budget:
        return max_tokens
    if "max_tokens" in defaults:
        return budget + max_tokens  # the default limit, on top of the thinking
    # The caller's own limit is a cap on spend: exceeding it silently would bill more than
    # was asked for, so it is the caller's to raise.
    effort = request.options.get("reasoning_effort")
    source = f" (reasoning_effort={effort!r})" if "thinking_budget" not in request.options else ""
    raise ConfigurationError(
        f"max_tokens={max_tokens} leaves no room for an answer after a thinking budget of "
        f"{budget} tokens{source} for {request.model!r}; raise max_tokens above the budget "
        "(it caps thinking and answer together) or lower the reasoning."
    )
