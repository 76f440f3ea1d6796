"""Prices from the genai-prices package: offline, names as users write them, per-token-type
prices agreeing with the package's own arithmetic, and its place below pricing.json."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import genai_prices
import pytest
from genai_prices import data_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.genai_prices_source import GenaiPricesSource
from ai.accounting.model_price import ModelPrice, PriceSource
from ai.accounting.pricing import PRICING_FILE_ENV, PricingTable, UnknownModelPriceWarning
from ai.core.usage import Usage
from tests.services.netguard import NetworkGuard

# A fixed noon (UTC): date-dependent prices are the ones in force that day, and noon lies
# in the window DeepSeek's time-of-day prices use for most of the day.
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
GENAI = f"genai-prices {genai_prices.__version__}"


@pytest.fixture(autouse=True)
def _no_pricing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICING_FILE_ENV, raising=False)


@pytest.fixture(scope="module")
def source() -> GenaiPricesSource:
    return GenaiPricesSource(clock=lambda: WHEN)


# --- offline ---------------------------------------------------------------------------


def test_the_packaged_data_loads_with_the_network_guard_on(
    source: GenaiPricesSource, network_guard: NetworkGuard
) -> None:
    assert network_guard.active  # any connection or DNS query would fail this test
    assert source.version == genai_prices.__version__
    assert source.model_count() > 1500  # thousands of (provider, model) entries


def test_lookups_start_no_update_thread(source: GenaiPricesSource) -> None:
    assert source.lookup("deepseek/deepseek-chat") is not None
    assert not [t for t in threading.enumerate() if t.name.startswith("genai_prices")]


def test_auto_update_elsewhere_in_the_process_does_not_change_our_prices() -> None:
    # genai_prices.UpdatePrices swaps the process-wide snapshot for one fetched from GitHub;
    # we read the bundled data, so even an empty swapped-in snapshot changes nothing.
    empty = data_snapshot.DataSnapshot(providers=[], from_auto_update=True)
    data_snapshot.set_custom_snapshot(empty)
    try:
        price = GenaiPricesSource(clock=lambda: WHEN).lookup("mistral-large-latest")
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert price is not None
    assert price.provider == "mistral"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_prices_in_a_process_without_any_network(tmp_path: Path) -> None:
    script = (
        "from ai.accounting.pricing import PricingTable\n"
        "from ai.core.usage import Usage\n"
        "t = PricingTable.default()\n"
        "print(t.cost('deepseek/deepseek-chat', Usage(input_tokens=10**6)) > 0)\n"
    )
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False, timeout=30)
    if probe.returncode != 0:
        pytest.skip("user namespaces are not available here")
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


# --- names as users write them ---------------------------------------------------------

SAMPLES = [
    # OpenRouter-style vendor/model ids for six vendors, plus the vendors' own spellings
    ("openai/gpt-5.1", "openai"),
    ("openai/o3-deep-research", "openai"),
    ("gpt-5.1", "openai"),
    ("anthropic/claude-opus-4.5", "anthropic"),
    ("anthropic/claude-sonnet-4.6", "anthropic"),
    ("claude-opus-4-5-20251101", "anthropic"),
    ("google/gemini-2.5-flash-lite", "google"),
    ("gemini-2.0-flash-lite-001", "google"),
    ("mistralai/mistral-large", "mistral"),
    ("mistral-large-latest", "mistral"),
    ("mistralai/codestral-2508", "mistral"),
    ("deepseek/deepseek-chat", "deepseek"),
    ("deepseek/deepseek-r1", "deepseek"),
    ("deepseek-reasoner", "deepseek"),
    ("meta-llama/llama-3.3-70b-instruct", "openrouter"),
    ("meta-llama/llama-4-maverick", "openrouter"),
    ("qwen/qwen3-235b-a22b", "openrouter"),
    ("x-ai/grok-4", "x-ai"),
    ("azure/gpt-4o-2024-11-20", "azure"),
    ("accounts/fireworks/models/llama-v3p1-8b-instruct", "fireworks"),
]


@pytest.mark.parametrize(("name", "provider"), SAMPLES)
def test_names_resolve_to_the_vendors_price_list(
    source: GenaiPricesSource, name: str, provider: str
) -> None:
    price = source.lookup(name)
    assert price is not None, name
    assert price.provider == provider
    assert price.source == GENAI
    assert 0 < price.input < 100  # USD per 1M tokens: a sane list price
    assert 0 < price.output < 400


@pytest.mark.parametrize(("name", "provider"), SAMPLES)
def test_costs_agree_with_genai_prices_own_arithmetic(
    source: GenaiPricesSource, name: str, provider: str
) -> None:
    price = source.lookup(name)
    assert price is not None
    usage = Usage(input_tokens=12_000, cached_input_tokens=3_000, output_tokens=2_500)
    theirs = _their_total(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cached_input_tokens if price.cached_input is not None else 0,
            output_tokens=usage.output_tokens,
        ),
        (price.model, name, name.partition("/")[2]),
        provider,
    )
    if price.cached_input is None:  # we bill those reads at the input price
        usage = Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    assert price.cost(usage) == pytest.approx(theirs, rel=1e-9)


def _their_total(usage: genai_prices.Usage, refs: tuple[str, ...], provider: str) -> float:
    """genai-prices' own total, for the first of `refs` its `calc_price` resolves."""
    for ref in refs:
        try:
            calculation = genai_prices.calc_price(
                usage, model_ref=ref, provider_id=provider, genai_request_timestamp=WHEN
            )
        except LookupError:
            continue
        return float(calculation.total_price)
    raise AssertionError(f"genai-prices resolves none of {refs} on {provider}")


def test_cache_reads_and_writes_are_priced_where_the_source_has_them(
    source: GenaiPricesSource,
) -> None:
    price = source.lookup("anthropic/claude-opus-4.5")
    assert price is not None
    assert price.cached_input is not None and price.cached_input < price.input
    assert price.cache_creation is not None and price.cache_creation > price.input
    usage = Usage(
        input_tokens=10_000, cached_input_tokens=6_000, cache_creation_tokens=3_000, output_tokens=0
    )
    theirs = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=10_000, cache_read_tokens=6_000, cache_write_tokens=3_000),
        model_ref="claude-opus-4-5",
        provider_id="anthropic",
        genai_request_timestamp=WHEN,
    ).total_price
    assert price.cost(usage) == pytest.approx(float(theirs), rel=1e-9)
    assert price.cost(usage) < price.input * usage.input_tokens / 1e6  # reads save more


def test_a_separate_reasoning_price_bills_reasoning_tokens_inside_the_output(
    source: GenaiPricesSource,
) -> None:
    price = source.lookup("sonar-deep-research", provider="perplexity")
    assert price is not None
    assert price.reasoning is not None and price.reasoning != price.output
    usage = Usage(input_tokens=0, output_tokens=1_000_000, reasoning_tokens=400_000)
    assert price.cost(usage) == pytest.approx(0.6 * price.output + 0.4 * price.reasoning)
    assert price.note is not None and "not applied" in price.note  # its per-search fee


def test_the_serving_host_steers_the_price(source: GenaiPricesSource) -> None:
    groq = source.lookup("llama-3.3-70b-versatile", provider="groq")
    assert groq is not None and groq.provider == "groq"
    assert source.lookup("llama-3.3-70b-versatile") is None  # no host: not guessed
    via_router = source.lookup("deepseek/deepseek-chat", provider="openrouter")
    direct = source.lookup("deepseek/deepseek-chat")
    assert via_router is not None and via_router.provider == "openrouter"
    assert direct is not None and direct.provider == "deepseek"
    assert source.lookup("gpt-4o-mini", provider="no-such-host") is not None  # hint ignored


def test_time_of_day_prices_use_the_price_in_force_most_of_the_day(
    source: GenaiPricesSource,
) -> None:
    price = source.lookup("deepseek-chat")
    assert price is not None
    assert price.note is not None and "time of day" in price.note
    peak = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000),
        model_ref="deepseek-chat",
        provider_id="deepseek",
        genai_request_timestamp=WHEN,  # noon UTC, in the 16-hour window
    ).total_price
    assert price.cost(Usage(input_tokens=1_000_000)) == pytest.approx(float(peak))


def test_tiered_prices_use_the_base_rate_and_say_so(source: GenaiPricesSource) -> None:
    price = source.lookup("gemini-1.5-pro-002")
    assert price is not None
    assert price.note is not None and "tiers not applied" in price.note


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama/llama-3.1-8b-instruct:free",  # listed with no price at all: not $0
        "ft:gpt-4o-mini:acme::x1",
        "acme-llm-9000",
        "",
        "   ",
    ],
)
def test_names_the_source_cannot_price(source: GenaiPricesSource, name: str) -> None:
    assert source.lookup(name) is None


# --- precedence: user file > pricing.json > genai-prices --------------------------------


def test_pricing_json_wins_over_the_package() -> None:
    table = PricingTable.default()
    for name in ("meta-llama/llama-3.1-70b-instruct", "gpt-4o", "claude-sonnet-4-5"):
        assert GenaiPricesSource(clock=lambda: WHEN).lookup(name) is not None  # both have it
        price = table.get(name)
        assert price is not None
        assert price.source == "ai/accounting/pricing.json"


def test_models_pricing_json_lacks_come_from_the_package() -> None:
    table = PricingTable.default()
    for name in ("deepseek/deepseek-chat", "mistral-large-latest"):
        price = table.get(name)
        assert price is not None, name
        assert price.source == GENAI
        assert table.cost(name, Usage(input_tokens=1000, output_tokens=1000)) is not None


def test_user_overrides_win_over_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        '{"deepseek/deepseek-chat": {"input": 0.01, "output": 0.02},'
        ' "gpt-4o": {"input": 1.0}, "mistral-large-latest": {"output": 5.0}}'
    )
    monkeypatch.setenv(PRICING_FILE_ENV, str(path))
    table = PricingTable.default()
    deepseek = table.get("deepseek/deepseek-chat")
    assert deepseek is not None and (deepseek.input, deepseek.output) == (0.01, 0.02)
    assert deepseek.source == str(path)
    gpt = table.get("gpt-4o")
    assert gpt is not None and (gpt.input, gpt.output) == (1.0, 10.0)  # pricing.json's output
    mistral = table.get("mistral-large-latest")  # part of a model only the package knows
    assert mistral is not None and mistral.output == 5.0
    package = GenaiPricesSource().lookup("mistral-large-latest")
    assert package is not None and mistral.input == package.input


def test_from_file_and_with_fallback_none_have_no_fallback(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"models": {"m1": {"input": 1, "output": 2}}}')
    own = PricingTable.from_file(path)
    assert own.fallback is None
    assert own.get("deepseek/deepseek-chat") is None
    assert own.with_fallback(GenaiPricesSource()).get("deepseek/deepseek-chat") is not None
    assert PricingTable.default().with_fallback(None).get("deepseek/deepseek-chat") is None


# --- the per-name cache ----------------------------------------------------------------


class CountingSource(PriceSource):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
        self.calls.append((model, provider))
        return ModelPrice(input=1.0, output=2.0, model=model) if model.startswith("x-") else None


def test_a_repeated_lookup_is_answered_from_the_cache() -> None:
    counting = CountingSource()
    table = PricingTable({}, fallback=counting)
    first = table.get("x-model")
    assert table.get("x-model") is first
    assert table.get("nope") is None and table.get("nope") is None
    assert table.get("x-model", provider="groq") is not None
    assert counting.calls == [("x-model", None), ("nope", None), ("x-model", "groq")]


def test_the_cache_is_bounded() -> None:
    counting = CountingSource()
    table = PricingTable({}, fallback=counting)
    for i in range(10_000):
        table.get(f"made-up-{i}")
    assert len(table._resolved) <= 4096


def test_a_failing_source_prices_nothing_and_says_why() -> None:
    class Broken(PriceSource):
        def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
            raise RuntimeError("data is corrupt")

    table = PricingTable({}, fallback=Broken())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert table.cost("x-model", Usage(input_tokens=5)) is None
    messages = [str(w.message) for w in caught if w.category is UnknownModelPriceWarning]
    assert any("data is corrupt" in m for m in messages)


# --- properties over the package's models ------------------------------------------------

_counts = st.integers(min_value=0, max_value=5_000_000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(_counts)
    cached = draw(st.integers(min_value=0, max_value=input_tokens))
    creation = draw(st.integers(min_value=0, max_value=input_tokens - cached))
    output = draw(_counts)
    reasoning = draw(st.integers(min_value=0, max_value=output))
    return Usage(input_tokens, output, cached, creation, reasoning)


_package_models = st.sampled_from(
    [name for name, _ in SAMPLES] + ["sonar-deep-research", "gemini-1.5-pro-002"]
)


def _price(name: str) -> ModelPrice:
    provider = "perplexity" if name == "sonar-deep-research" else None
    price = _SOURCE.lookup(name, provider)
    assert price is not None
    return price


_SOURCE = GenaiPricesSource(clock=lambda: WHEN)


@settings(max_examples=300, deadline=None)
@given(a=usages(), b=usages(), name=_package_models)
def test_cost_is_additive_over_calls(a: Usage, b: Usage, name: str) -> None:
    price = _price(name)
    assert math.isclose(
        price.cost(a + b), price.cost(a) + price.cost(b), rel_tol=1e-9, abs_tol=1e-12
    )
    assert price.cost(a) >= 0


@settings(max_examples=300, deadline=None)
@given(usage=usages(), name=_package_models, k=st.integers(min_value=0, max_value=1_000_000))
def test_cost_is_monotone_in_each_token_type(usage: Usage, name: str, k: int) -> None:
    price = _price(name)
    base = price.cost(usage)
    for extra in (
        Usage(input_tokens=k),
        Usage(input_tokens=k, cached_input_tokens=k),
        Usage(input_tokens=k, cache_creation_tokens=k),
        Usage(output_tokens=k),
        Usage(output_tokens=k, reasoning_tokens=k),
    ):
        assert price.cost(usage + extra) >= base - 1e-12 * max(1.0, base)


def _all_priced_names() -> Iterator[str]:
    from genai_prices.data import providers

    for provider in providers:
        for model in provider.models:
            yield model.id


def test_every_model_id_in_the_package_resolves_to_a_valid_price_or_none(
    source: GenaiPricesSource,
) -> None:
    converted = 0
    for name in _all_priced_names():
        price = source.lookup(name)  # ModelPrice validates: finite, >= 0
        converted += price is not None
    assert converted > 1000


def test_a_reasoning_price_can_be_given_in_a_pricing_file() -> None:
    table = PricingTable({}).with_overrides(
        {"acme-thinker": {"input": 1.0, "output": 4.0, "reasoning": 2.0}}
    )
    usage = Usage(output_tokens=1_000_000, reasoning_tokens=250_000)
    assert table.cost("acme-thinker", usage) == pytest.approx(0.75 * 4.0 + 0.25 * 2.0)


def test_the_package_is_imported_only_when_a_name_needs_it() -> None:
    code = (
        "import sys\n"
        "from ai.accounting.pricing import PricingTable\n"
        "t = PricingTable.default()\n"
        "t.get('gpt-4o')\n"
        "print('genai_prices' in sys.modules)\n"
        "t.get('mistral-large-latest')\n"
        "print('genai_prices' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"]
