"""Prices for thousands of models from pydantic's `genai-prices` package, offline.

`genai-prices` ships its price database inside the wheel (`genai_prices.data`). We read
that bundled data directly and nothing else: never `genai_prices.calc_price` (which uses a
process-wide snapshot that `genai_prices.UpdatePrices` may replace with one fetched from
GitHub), never `UpdatePrices` itself. So a lookup cannot touch the network, and another
library turning on genai-prices' auto-update in the same process does not change our
prices. To get newer prices, upgrade the package.

Names arrive as users write them (`gpt-4o-mini`, `openai/gpt-4o-mini`,
`anthropic/claude-3.5-haiku`, `mistral-large-latest`, `claude-sonnet-4-5-20250929`,
`accounts/fireworks/models/...`). `GenaiPricesSource.lookup` tries, in order, and takes
the first model it finds:

1. the serving host's own list, when the caller names it (`provider="groq"`), with the
   name as given and without its vendor prefix;
2. the providers whose model pattern matches the whole name (`gpt-` is OpenAI's,
   `claude` Anthropic's, `gemini` Google's, `accounts/fireworks/` Fireworks'...);
3. for `vendor/model`: the vendor's own list (`mistralai/...` is Mistral's, `deepseek/...`
   DeepSeek's), then OpenRouter's listing of the whole id (`meta-llama/...`,
   `qwen/...`), then step 2 on the bare model name;
4. all of that again without a snapshot suffix (`-2024-08-06`, `-20250514`, `-latest`).

genai-prices' own matching then handles aliases and dated snapshots within a provider.

The package's prices are richer than our `ModelPrice`; a price is reduced to it so that a
cost stays additive over calls:

- input, output, cache read (`cached_input`), 5-minute cache write (`cache_creation`) and
  reasoning output prices map one to one; a model with neither an input nor an output
  token price (`:free` listings with no prices, image or audio-only models) is unpriced;
- tiered prices (a higher rate for the whole call above N input tokens) use the base
  rate; the tiers are named in the price's `note`, as are 1-hour cache writes and
  non-token charges (web searches, images);
- prices that changed on a date use the one in force at the first lookup (`clock`);
- time-of-day prices (DeepSeek's off-peak rates) use the price in force for most of the
  day; the `note` says so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from ai.accounting.model_price import SNAPSHOT_SUFFIX, ModelPrice, PriceSource

if TYPE_CHECKING:
    from genai_prices import types as genai

__all__ = ["GenaiPricesSource"]

_MAPPED_KEYS = frozenset(
    {
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_1h_mtok",
        "output_reasoning_mtok",
    }
)
_OPENROUTER = "openrouter"
_DAY_SAMPLES = 288  # every 5 minutes: time-of-day windows start on the half hour


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Data:
    """The bundled providers, indexed once."""

    version: str
    providers: list[genai.Provider]
    by_id: dict[str, genai.Provider]
    find_by_id: Callable[[list[genai.Provider], str], genai.Provider | None]


class GenaiPricesSource(PriceSource):
    """Model prices from the data bundled in the installed `genai-prices` package.

    The package is imported on the first lookup (about 0.4 s), not when `ai` is imported.
    `clock` says which date-dependent price is current; prices are converted once per
    model and kept for the life of the source.
    """

    def __init__(self, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._converted: dict[tuple[str, str], ModelPrice | None] = {}

    @functools.cached_property
    def _data(self) -> _Data:
        import genai_prices
        from genai_prices.data import providers
        from genai_prices.data_snapshot import find_provider_by_id

        return _Data(
            version=genai_prices.__version__,
            providers=providers,
            by_id={provider.id: provider for provider in providers},
            find_by_id=find_provider_by_id,
        )

    @property
    def version(self) -> str:
        """The installed genai-prices version the prices come from."""
        return self._data.version

    def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
        """The price of `model`, served by `provider` if given (a genai-prices provider id)."""
        data = self._data
        name = model.strip().lower()
        if not name:
            return None
        tried: set[tuple[str, str]] = set()
        for variant in dict.fromkeys((name, SNAPSHOT_SUFFIX.sub("", name))):
            for host, ref in self._candidates(data, variant, provider):
                if (host.id, ref) in tried:
                    continue
                tried.add((host.id, ref))
                info = host.find_model(ref, all_providers=data.providers)
                if info is not None:
                    # Found: its price, or None when the source lists it without a token price.
                    return self._convert(host, info)
        return None

    def model_count(self) -> int:
        """How many (provider, model) entries of the source have a token price."""
        data = self._data
        return sum(
            self._convert(host, info) is not None for host in data.providers for info in host.models
        )

    def _candidates(
        self, data: _Data, name: str, hint: str | None
    ) -> Iterator[tuple[genai.Provider, str]]:
        vendor, slash, bare = name.partition("/")
        if hint is not None and (host := data.by_id.get(hint.strip().lower())) is not None:
            yield host, name
            if slash:
                yield host, bare
        yield from ((host, name) for host in _matching(data.providers, name))
        if not slash:
            return
        if (host := data.find_by_id(data.providers, vendor)) is not None:
            yield host, bare
        if (host := data.by_id.get(_OPENROUTER)) is not None:
            yield host, name
        yield from ((host, bare) for host in _matching(data.providers, bare))

    def _convert(self, host: genai.Provider, info: genai.ModelInfo) -> ModelPrice | None:
        key = (host.id, info.id)
        if key not in self._converted:
            self._converted[key] = _to_model_price(
                host.id, info, self._clock(), f"genai-prices {self._data.version}"
            )
        return self._converted[key]


def _matching(providers: Sequence[genai.Provider], ref: str) -> Iterator[genai.Provider]:
    """Providers whose model pattern claims `ref`, in the data's order."""
    for host in providers:
        if host.model_match is not None and host.model_match.is_match(ref):
            yield host


def _to_model_price(
    provider_id: str, info: genai.ModelInfo, when: datetime, source: str
) -> ModelPrice | None:
    """`info`'s standard price reduced to a `ModelPrice`; None without a token price."""
    prices, notes = _standard_prices(info, when)
    values = {key: value for key, value in vars(prices).items() if value is not None}
    input_price, notes_in = _rate(values.get("input_mtok"), "input")
    output_price, notes_out = _rate(values.get("output_mtok"), "output")
    if input_price is None and output_price is None:
        return None
    cached, notes_cached = _rate(values.get("cache_read_mtok"), "cache reads")
    creation, notes_creation = _rate(values.get("cache_write_mtok"), "cache writes")
    reasoning, notes_reasoning = _rate(values.get("output_reasoning_mtok"), "reasoning")
    notes += notes_in + notes_out + notes_cached + notes_creation + notes_reasoning
    hour_write, _ = _rate(values.get("cache_write_1h_mtok"), "1-hour cache writes")
    if hour_write is not None:
        notes.append(f"1-hour cache writes cost {hour_write:g} (the 5-minute price is applied)")
    others = sorted(set(values) - _MAPPED_KEYS)
    if others:
        notes.append(f"also charges {', '.join(others)} (not applied)")
    window = info.context_window if info.context_window and info.context_window > 0 else None
    return ModelPrice(
        input=input_price or 0.0,
        output=output_price or 0.0,
        cached_input=cached,
        cache_creation=creation,
        reasoning=reasoning,
        context_window=window,
        provider=provider_id,
        model=info.id,
        note="; ".join(notes) or None,
        source=source,
    )


def _standard_prices(info: genai.ModelInfo, when: datetime) -> tuple[genai.ModelPrice, list[str]]:
    """The price in force at `when`, or for most of that day where it varies by the hour."""
    from genai_prices.types import ModelPrice as GenaiModelPrice
    from genai_prices.types import TimeOfDateConstraint

    if isinstance(info.prices, GenaiModelPrice):
        return info.prices, []
    if not any(isinstance(c.constraint, TimeOfDateConstraint) for c in info.prices):
        return info.get_prices(when), []
    midnight = datetime(when.year, when.month, when.day, tzinfo=UTC)
    step = timedelta(days=1) / _DAY_SAMPLES
    shares: dict[int, tuple[genai.ModelPrice, int]] = {}
    for sample in range(_DAY_SAMPLES):
        price = info.get_prices(midnight + sample * step)
        _, count = shares.get(id(price), (price, 0))
        shares[id(price)] = (price, count + 1)
    ranked = sorted(shares.values(), key=lambda share: -share[1])  # stable: data order on ties
    chosen, count = ranked[0]
    hours = 24 * count / _DAY_SAMPLES
    note = f"price varies by time of day (UTC); the one in force {hours:g} h a day is applied"
    return chosen, [note]


def _rate(value: Decimal | genai.TieredPrices | None, what: str) -> tuple[float | None, list[str]]:
    """A flat USD-per-1M rate, and a note naming any tiers that are left out."""
    if value is None:
        return None, []
    if isinstance(value, Decimal):
        return float(value), []
    tiers = ", ".join(f"{float(t.price):g} above {t.start} input tokens" for t in value.tiers)
    return float(value.base), [f"{what} tiers not applied: {tiers}"]
