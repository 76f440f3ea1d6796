"""Model prices and the cost of a call, from a packaged table users can override.

Prices are USD per 1M tokens, per token type. ``Usage`` follows the OpenTelemetry GenAI
conventions (cached and cache-creation tokens are subsets of ``input_tokens``, reasoning
tokens a subset of ``output_tokens``), so a call costs::

    uncached input x input + cache reads x cached_input
      + cache writes x cache_creation + output x output

and no token is counted twice. An unknown model costs ``None`` with a warning naming the
model, never a silent 0.

Sources, later ones winning: the packaged ``pricing.json``, the JSON file named by
``DEVORA_PRICING_FILE``, then whatever ``PricingTable.with_overrides`` is given.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ai.core.usage import Usage
from ai.errors import ConfigurationError

__all__ = [
    "PRICING_FILE_ENV",
    "ModelPrice",
    "PricingTable",
    "UnknownModelPriceWarning",
]

PRICING_FILE_ENV = "DEVORA_PRICING_FILE"
"""Environment variable naming a JSON file merged over the packaged prices."""

_PER_TOKENS = 1_000_000
_PRICE_KEYS = ("input", "output", "cached_input", "cache_creation")
_MODEL_KEYS = frozenset({*_PRICE_KEYS, "context_window", "provider", "aliases", "note"})
_DOCUMENT_KEYS = frozenset({"updated", "source", "currency", "unit", "models"})
# `gpt-4o-mini-2024-07-18`, `claude-sonnet-4-20250514`, `gemini-2.0-flash-001`, `...-latest`
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")


class UnknownModelPriceWarning(UserWarning):
    """A cost was asked for a model the pricing table does not know."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """List prices of one model in USD per 1M tokens.

    ``cached_input`` (cache reads) and ``cache_creation`` (cache writes) fall back to the
    input price where a provider has no separate price.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None
    context_window: int | None = None
    provider: str | None = None
    model: str = ""
    note: str | None = None

    def __post_init__(self) -> None:
        for key in _PRICE_KEYS:
            value = getattr(self, key)
            if value is None and key in ("cached_input", "cache_creation"):
                continue
            _check_price(self.model, key, value)
        if self.context_window is not None and (
            isinstance(self.context_window, bool)
            or not isinstance(self.context_window, int)
            or self.context_window <= 0
        ):
            raise ConfigurationError(
                f"pricing for {self.model!r}: 'context_window' must be a positive integer, "
                f"got {self.context_window!r}"
            )

    @property
    def cached_input_price(self) -> float:
        """Price of a cache read, the input price where none is published."""
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_creation_price(self) -> float:
        """Price of a cache write, the input price where none is published."""
        return self.input if self.cache_creation is None else self.cache_creation

    def cost(self, usage: Usage) -> float:
        """USD cost of `usage`, each token billed once at its own type's price."""
        per_million = (
            usage.uncached_input_tokens * self.input
            + usage.cached_input_tokens * self.cached_input_price
            + usage.cache_creation_tokens * self.cache_creation_price
            + usage.output_tokens * self.output
        )
        return per_million / _PER_TOKENS


class PricingTable:
    """An immutable set of model prices with alias and snapshot-name resolution.

    Lookups try, in order: the exact name, an alias, the name without a dated-snapshot
    or ``-latest`` suffix, then all of that again without a vendor prefix
    (``openai/gpt-4.1`` -> ``gpt-4.1``). Names are case-insensitive.
    """

    __slots__ = ("_aliases", "_prices", "_warned", "source", "updated")

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        aliases: Mapping[str, str] | None = None,
        *,
        updated: str | None = None,
        source: str | None = None,
    ) -> None:
        normalised = {name.strip().lower(): price for name, price in prices.items()}
        alias_map = {a.strip().lower(): t.strip().lower() for a, t in (aliases or {}).items()}
        for alias, target in alias_map.items():
            if target not in normalised:
                raise ConfigurationError(
                    f"pricing alias {alias!r} points to {target!r}, which has no price"
                )
        self._prices: Mapping[str, ModelPrice] = MappingProxyType(normalised)
        self._aliases: Mapping[str, str] = MappingProxyType(alias_map)
        self._warned: set[str] = set()  # models already warned about, per table
        self.updated = updated
        self.source = source

    @classmethod
    def default(cls) -> PricingTable:
        """The packaged prices, with ``DEVORA_PRICING_FILE`` merged over them if set.

        Both are parsed once (the file again only when it changes).
        """
        path = os.environ.get(PRICING_FILE_ENV)
        if not path:
            return _packaged_table()
        try:
            stat = Path(path).stat()
        except OSError as exc:
            raise ConfigurationError(
                f"{PRICING_FILE_ENV}={path!r} cannot be read ({exc.strerror}); "
                "point it at a pricing JSON file or unset it"
            ) from exc
        return _table_with_env_file(path, stat.st_mtime_ns, stat.st_size)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PricingTable:
        """A table from a complete pricing JSON file (same shape as the packaged one)."""
        document = _read_json(Path(path))
        entries, aliases = _parse_document(document, origin=str(path))
        return cls._build({}, {}, entries, aliases, document, origin=str(path))

    def with_overrides(self, overrides: Mapping[str, Any] | str | os.PathLike[str]) -> PricingTable:
        """A new table with `overrides` merged over this one; this table is unchanged.

        `overrides` is a pricing document (``{"models": {...}}``), a bare mapping of model
        name to fields, or a path to a JSON file holding either. Fields given for a known
        model replace just those fields; a new model needs ``input`` and ``output``.
        """
        if isinstance(overrides, Mapping):
            document: Mapping[str, Any] = overrides
            origin = "overrides"
        else:
            document = _read_json(Path(overrides))
            origin = str(overrides)
        if "models" not in document:
            document = {"models": document}
        entries, aliases = _parse_document(document, origin=origin)
        return PricingTable._build(
            self._prices,
            self._aliases,
            entries,
            aliases,
            {"updated": self.updated, "source": self.source},
            origin=origin,
        )

    def get(self, model: str) -> ModelPrice | None:
        """The price of `model`, or None when no name rule finds it."""
        for candidate in _candidate_names(model):
            price = self._prices.get(candidate)
            if price is None and candidate in self._aliases:
                price = self._prices[self._aliases[candidate]]
            if price is not None:
                return price
        return None

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD cost of `usage` on `model`; None (and one warning per model) when unknown."""
        price = self.get(model)
        if price is not None:
            return price.cost(usage)
        if model not in self._warned:
            self._warned.add(model)
            warnings.warn(
                f"No price for model {model!r}, so its cost is unknown (None). Add it with "
                f"PricingTable.with_overrides({{{model!r}: {{'input': ..., 'output': ...}}}}) "
                f"or in a JSON file named by {PRICING_FILE_ENV} (USD per 1M tokens).",
                UnknownModelPriceWarning,
                stacklevel=2,
            )
        return None

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.get(model) is not None

    def __iter__(self) -> Iterator[str]:
        """Canonical model names (aliases are not listed)."""
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        return f"PricingTable({len(self._prices)} models, updated={self.updated!r})"

    @classmethod
    def _build(
        cls,
        base_prices: Mapping[str, ModelPrice],
        base_aliases: Mapping[str, str],
        entries: Mapping[str, Mapping[str, Any]],
        aliases: Mapping[str, str],
        meta: Mapping[str, Any],
        *,
        origin: str,
    ) -> PricingTable:
        prices = dict(base_prices)
        for name, fields in entries.items():
            existing = prices.get(name)
            if existing is not None:
                prices[name] = dataclasses.replace(existing, **fields)
            elif "input" in fields and "output" in fields:
                prices[name] = ModelPrice(model=name, **fields)
            else:
                hint = (
                    f" (it is an alias of {base_aliases[name]!r})" if name in base_aliases else ""
                )
                raise ConfigurationError(
                    f"{origin}: model {name!r} is not in the pricing table{hint}; "
                    "a new model needs both 'input' and 'output' prices"
                )
        merged_aliases = {k: v for k, v in base_aliases.items() if k not in entries}
        merged_aliases.update(aliases)
        return cls(
            prices,
            merged_aliases,
            updated=_optional_str(meta.get("updated")),
            source=_optional_str(meta.get("source")),
        )


@functools.cache
def _packaged_table() -> PricingTable:
    """The table shipped in ``ai/accounting/pricing.json``, parsed once per process."""
    resource = importlib.resources.files("ai.accounting").joinpath("pricing.json")
    document = json.loads(resource.read_text(encoding="utf-8"))
    entries, aliases = _parse_document(document, origin="ai/accounting/pricing.json")
    return PricingTable._build(
        {}, {}, entries, aliases, document, origin="ai/accounting/pricing.json"
    )


@functools.lru_cache(maxsize=4)
def _table_with_env_file(path: str, mtime_ns: int, size: int) -> PricingTable:
    """Packaged table plus the env-var file; keyed on the file's stamp to see edits."""
    del mtime_ns, size  # only part of the cache key
    return _packaged_table().with_overrides(path)


def _candidate_names(model: str) -> Iterator[str]:
    name = model.strip().lower()
    yield name
    yield _SNAPSHOT_SUFFIX.sub("", name)
    if "/" in name:
        bare = name.rsplit("/", 1)[-1]
        yield bare
        yield _SNAPSHOT_SUFFIX.sub("", bare)


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"pricing file {str(path)!r} cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"pricing file {str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"pricing file {str(path)!r} must hold a JSON object")
    return document


def _parse_document(
    document: Mapping[str, Any], *, origin: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Validate a pricing document; returns per-model fields and an alias -> model map."""
    unknown = sorted(set(document) - _DOCUMENT_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{origin}: unknown key {unknown[0]!r} in pricing document; "
            f"allowed keys: {', '.join(sorted(_DOCUMENT_KEYS))}"
        )
    currency = document.get("currency", "USD")
    if currency != "USD":
        raise ConfigurationError(f"{origin}: 'currency' must be 'USD', got {currency!r}")
    models = document.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigurationError(f"{origin}: 'models' must map model names to prices")
    entries: dict[str, dict[str, Any]] = {}
    aliases: dict[str, str] = {}
    for raw_name, raw_fields in models.items():
        name = str(raw_name).strip().lower()
        fields = _parse_model_fields(name, raw_fields, origin=origin)
        for alias in fields.pop("aliases", ()):
            aliases[alias] = name
        entries[name] = fields
    return entries, aliases


def _parse_model_fields(name: str, raw: Any, *, origin: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{origin}: prices for {name!r} must be a JSON object")
    unknown = sorted(set(raw) - _MODEL_KEYS)
    if unknown:
        raise ConfigurationError(
            f"{origin}: unknown key {unknown[0]!r} for model {name!r}; "
            f"allowed keys: {', '.join(sorted(_MODEL_KEYS))}"
        )
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _PRICE_KEYS:
            fields[key] = _check_price(name, key, value, origin=origin)
        elif key == "aliases":
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise ConfigurationError(
                    f"{origin}: 'aliases' for {name!r} must be a list of strings"
                )
            fields[key] = [alias.strip().lower() for alias in value]
        elif key in ("provider", "note"):
            if not isinstance(value, str):
                raise ConfigurationError(f"{origin}: {key!r} for {name!r} must be a string")
            fields[key] = value
        else:  # context_window; ModelPrice validates it
            fields[key] = value
    return fields


def _check_price(model: str, key: str, value: Any, *, origin: str = "pricing") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"{origin}: {key!r} for {model!r} must be a number (USD per 1M tokens), got {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(
            f"{origin}: {key!r} for {model!r} must be a finite price >= 0, got {value!r}"
        )
    return float(value)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
