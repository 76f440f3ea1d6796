"""What the values of the gateway's configuration may be: an alias's request defaults and
`LLMConfig` settings (type and range, so that a mistake fails when `devora.yaml` is read,
naming its path, instead of when the gateway starts), and the provider names it can use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ai.errors import ConfigurationError
from ai.providers.parameters import EFFORT_BUDGETS
from ai.providers.registry import default_registry


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Request defaults an alias may set: what each must be, and how to say so.
ALIAS_DEFAULTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (lambda v: _number(v) and 0 <= v <= 2, "a number from 0 to 2"),
    "max_tokens": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
    "top_p": (lambda v: _number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "seed": (_whole, "a whole number"),
    "stop": (
        lambda v: (
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(item, str) for item in v))
        ),
        "a string or a list of strings",
    ),
    "reasoning_effort": (lambda v: v in EFFORT_BUDGETS, " or ".join(EFFORT_BUDGETS)),
}
#: `LLMConfig` settings an alias may set (`LLMConfig` checks their ranges).
ALIAS_SETTINGS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "timeout": (_number, "a number of seconds"),
    "max_retries": (_whole, "a whole number"),
    "retry_delay": (_number, "a number of seconds"),
    "retry_before_fallback": (lambda v: isinstance(v, bool), "true or false"),
    "stream_idle_timeout": (_number, "a number of seconds"),
    "circuit_failure_threshold": (_whole, "a whole number"),
    "circuit_window": (_whole, "a whole number"),
    "circuit_cooldown": (_number, "a number of seconds"),
    "unsupported_params": (lambda v: isinstance(v, str), "drop, warn or error"),
}


def typed(
    value: object, where: str, expected: Mapping[str, tuple[Callable[[Any], bool], str]]
) -> dict[str, Any]:
    """A mapping of known options, each of the type (and range) `expected` says."""
    section = dict(checked(value, where, set(expected)))
    for key, item in section.items():
        accepts, description = expected[key]
        if not accepts(item):
            raise ConfigurationError(f"{where}.{key} must be {description}, got {item!r}.")
    return section


def known_provider(name: str, where: str, *, embeddings: bool) -> None:
    """A provider name the gateway can build a service for (`ai.providers` registry; for
    embeddings also the embedding backends', `local` included)."""
    known = {spec.name for spec in default_registry()}
    if embeddings:
        from ai.rag.embedding_backends.registry import default_embedding_providers

        if name in default_embedding_providers():
            return
        known.add("local")
    if name not in default_registry():
        raise ConfigurationError(
            f"{where}: unknown provider {name!r}; known providers: {', '.join(sorted(known))}."
        )


def mapping(value: object, where: str) -> dict[str, Any]:
    """`value`, which must be a mapping of names (a YAML section)."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(f"{where} must be a mapping of names to settings.")
    return value


def checked(value: object, where: str, allowed: set[str]) -> dict[str, Any]:
    """`value` as a mapping of names, none of them outside `allowed` (a misspelt option is
    an error naming the options that exist)."""
    section = mapping(value, where)
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}."
        )
    return section
