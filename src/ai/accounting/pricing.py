"""Model prices and the cost of a call, from packaged prices users can override.

Prices are USD per 1M tokens, per token type. ``Usage`` follows the OpenTelemetry GenAI
conventions (cached and cache-creation tokens are subsets of ``input_tokens``, reasoning
tokens a subset of ``output_tokens``), so a call costs::

    uncached input x input + cache reads x cached_input
      + cache writes x cache_creation + output x output
      (+ reasoning x (reasoning - output) where a model prices reasoning apart)

and no token is counted twice. An unknown model costs ``None`` with a warning naming the
model, never a silent 0.

Sources, later ones winning: the `genai-prices` package's bundled database (thousands of
models, `ai.accounting.genai_prices_source`), the packaged ``pricing.json``, the JSON file
named by ``DEVORA_PRICING_FILE``, then whatever ``PricingTable.with_overrides`` is given.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ai.accounting.genai_prices_source import GenaiPricesSource
from ai.accounting.model_price import (
    PRICE_KEYS,
    SNAPSHOT_SUFFIX,
    ModelPrice,
    PriceSource,
    check_price,
)
from ai.core.usage import Usage
from ai.errors import ConfigurationError

__all__ = [
    "PRICING_FILE_ENV",
    "GenaiPricesSource",
    "ModelPrice",
    "PriceSource",
    "PricingTable",
    "UnknownModelPriceWarning",
]

PRICING_FILE_ENV = "DEVORA_PRICING_FILE"
"""Environment variable naming a JSON file merged over the packaged prices."""

_MODEL_KEYS = frozenset({*PRICE_KEYS, "context_window", "provider", "aliases", "note"})
_DOCUMENT_KEYS = frozenset({"updated", "source", "currency", "unit", "models"})
_PACKAGED = "ai/accounting/pricing.json"
_MAX_RESOLVED = 4096  # names remembered per table; a flood of made-up names cannot grow it


class UnknownModelPriceWarning(UserWarning):
    """A cost was asked for a model the pricing table does not know."""


class PricingTable:
    """An immutable set of model prices with alias and snapshot-name resolution.

    Lookups try, in order: the exact name, an alias, the name without a dated-snapshot
    or ``-latest`` suffix, then all of that again without a vendor prefix
    (``openai/gpt-4.1`` -> ``gpt-4.1``). Names are case-insensitive. A name none of
    these finds goes to the table's `fallback` source, if it has one (the default table
    falls back to `genai-prices`). Each answer is remembered per name, so a repeated
    lookup is one dict access.
    """

    __slots__ = ("_aliases", "_fallback", "_prices", "_resolved", "_warned", "source", "updated")

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        aliases: Mapping[str, str] | None = None,
        *,
        updated: str | None = None,
        source: str | None = None,
        fallback: PriceSource | None = None,
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
        self._fallback = fallback
        # Answers per (name, provider) as asked; a cache, not state: same answers without it.
        self._resolved: dict[tuple[str, str | None], ModelPrice | None] = {}
        self._warned: set[str] = set()  # models already warned about, per table
        self.updated = updated
        self.source = source

    @classmethod
    def default(cls) -> PricingTable:
        """The packaged prices over `genai-prices`, with ``DEVORA_PRICING_FILE`` merged
        over both if set.

        Both files are parsed once (the env-var file again only when it changes).
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
        """A table from a complete pricing JSON file (same shape as the packaged one).

        It has no fallback source: models the file does not list are unknown (add one
        with `with_fallback`).
        """
        document = _read_json(Path(path))
        entries, aliases = _parse_document(document, origin=str(path))
        return cls._build({}, {}, entries, aliases, document, origin=str(path), fallback=None)

    @property
    def fallback(self) -> PriceSource | None:
        """Where names this table has no entry for are looked up, if anywhere."""
        return self._fallback

    def with_fallback(self, fallback: PriceSource | None) -> PricingTable:
        """This table's entries with another fallback source (None: this table only)."""
        return PricingTable(
            self._prices,
            self._aliases,
            updated=self.updated,
            source=self.source,
            fallback=fallback,
        )

    def with_overrides(self, overrides: Mapping[str, Any] | str | os.PathLike[str]) -> PricingTable:
        """A new table with `overrides` merged over this one; this table is unchanged.

        `overrides` is a pricing document (``{"models": {...}}``), a bare mapping of model
        name to fields, or a path to a JSON file holding either. Fields given for a known
        model replace just those fields, and so do the fields of a model only the fallback
        source knows, given in part; a new model needs ``input`` and ``output``.
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
            fallback=self._fallback,
        )

    def get(self, model: str, *, provider: str | None = None) -> ModelPrice | None:
        """The price of `model`, or None when neither this table nor its fallback has one.

        `provider` is the price-source id of the host serving the call (``groq``,
        ``together``; `ProviderSpec.price_source`), for hosts whose prices differ from
        the vendor's. It only steers the fallback source: this table's own entries win.
        """
        key = (model, provider)
        try:
            return self._resolved[key]
        except KeyError:
            price = self._resolve(model, provider)
            if len(self._resolved) >= _MAX_RESOLVED:
                self._resolved.clear()
            self._resolved[key] = price
            return price

    def cost(self, model: str, usage: Usage, *, provider: str | None = None) -> float | None:
        """USD cost of `usage` on `model`; None (and one warning per model) when unknown."""
        price = self.get(model, provider=provider)
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
        """Canonical names of this table's own entries (not aliases, not the fallback's)."""
        return iter(self._prices)

    def __len__(self) -> int:
        """How many entries the table has of its own (the fallback's are not counted)."""
        return len(self._prices)

    def __repr__(self) -> str:
        fallback = f", fallback={type(self._fallback).__name__}" if self._fallback else ""
        return f"PricingTable({len(self._prices)} models, updated={self.updated!r}{fallback})"

    def _resolve(self, model: str, provider: str | None) -> ModelPrice | None:
        for candidate in _candidate_names(model):
            price = self._prices.get(candidate)
            if price is None and candidate in self._aliases:
                price = self._prices[self._aliases[candidate]]
            if price is not None:
                return price
        if self._fallback is None:
            return None
        try:
            return self._fallback.lookup(model, provider)
        except Exception as exc:  # a broken source must not fail the call being priced
            warnings.warn(
                f"Price source {type(self._fallback).__name__} failed for model {model!r} "
                f"({type(exc).__name__}: {exc}); treating its price as unknown.",
                UnknownModelPriceWarning,
                stacklevel=3,
            )
            return None

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
        fallback: PriceSource | None,
    ) -> PricingTable:
        prices = dict(base_prices)
        for name, fields in entries.items():
            existing = prices.get(name)
            partial = "input" not in fields or "output" not in fields
            if existing is None and partial and fallback and name not in base_aliases:
                existing = fallback.lookup(name)  # give part of a model only the source knows
            if existing is not None:
                prices[name] = dataclasses.replace(existing, model=name, source=origin, **fields)
            elif "input" in fields and "output" in fields:
                prices[name] = ModelPrice(model=name, source=origin, **fields)
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
            fallback=fallback,
        )


@functools.cache
def _packaged_table() -> PricingTable:
    """``ai/accounting/pricing.json`` over `genai-prices`, parsed once per process."""
    resource = importlib.resources.files("ai.accounting").joinpath("pricing.json")
    document = json.loads(resource.read_text(encoding="utf-8"))
    entries, aliases = _parse_document(document, origin=_PACKAGED)
    return PricingTable._build(
        {}, {}, entries, aliases, document, origin=_PACKAGED, fallback=GenaiPricesSource()
    )


@functools.lru_cache(maxsize=4)
def _table_with_env_file(path: str, mtime_ns: int, size: int) -> PricingTable:
    """Packaged table plus the env-var file; keyed on the file's stamp to see edits."""
    del mtime_ns, size  # only part of the cache key
    return _packaged_table().with_overrides(path)


def _candidate_names(model: str) -> Iterator[str]:
    name = model.strip().lower()
    yield name
    yield SNAPSHOT_SUFFIX.sub("", name)
    if "/" in name:
        bare = name.rsplit("/", 1)[-1]
        yield bare
        yield SNAPSHOT_SUFFIX.sub("", bare)


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
        if key in PRICE_KEYS:
            fields[key] = check_price(name, key, value, origin=origin)
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


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
