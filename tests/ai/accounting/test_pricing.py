"""Pricing: cost arithmetic per token type, name resolution, overrides and validation."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.pricing import (
    PRICING_FILE_ENV,
    ModelPrice,
    PricingTable,
    UnknownModelPriceWarning,
)
from ai.core.usage import Usage
from ai.errors import ConfigurationError


@pytest.fixture(autouse=True)
def _no_pricing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICING_FILE_ENV, raising=False)


@pytest.fixture
def table() -> PricingTable:
    return PricingTable.default()


# --- cost arithmetic, hand-computed -------------------------------------------------


def test_openai_cached_input_is_a_subset_billed_at_the_cached_price(table: PricingTable) -> None:
    # gpt-4o: 2.50 input, 1.25 cached, 10.00 output per 1M.
    usage = Usage(input_tokens=1000, cached_input_tokens=400, output_tokens=500)
    # 600 x 2.50 + 400 x 1.25 + 500 x 10.00 = 7000 per 1M
    assert table.cost("gpt-4o", usage) == pytest.approx(0.007)


def test_plain_input_and_output(table: PricingTable) -> None:
    usage = Usage(input_tokens=2_000_000, output_tokens=1_000_000)
    assert table.cost("gpt-4o-mini", usage) == pytest.approx(2 * 0.15 + 0.60)


def test_reasoning_tokens_are_inside_output_not_added(table: PricingTable) -> None:
    usage = Usage(input_tokens=10_000, output_tokens=5_000, reasoning_tokens=4_000)
    # o3-mini: 10000 x 1.10 + 5000 x 4.40 = 33000 per 1M
    assert table.cost("o3-mini", usage) == pytest.approx(0.033)


def test_anthropic_cache_write_and_read(table: PricingTable) -> None:
    # claude-sonnet-4-5: 3.00 input, 3.75 cache write, 0.30 cache read, 15.00 output.
    usage = Usage(
        input_tokens=6000, cached_input_tokens=3000, cache_creation_tokens=2000, output_tokens=500
    )
    # 1000 x 3 + 3000 x 0.30 + 2000 x 3.75 + 500 x 15 = 18900 per 1M
    assert table.cost("claude-sonnet-4-5", usage) == pytest.approx(0.0189)


def test_claude_3_haiku_uses_its_listed_cache_prices(table: PricingTable) -> None:
    usage = Usage(
        input_tokens=3_000_000, cached_input_tokens=1_000_000, cache_creation_tokens=1_000_000
    )
    # 1M x 0.25 + 1M x 0.03 + 1M x 0.30
    assert table.cost("claude-3-haiku-20240307", usage) == pytest.approx(0.58)


def test_missing_cache_prices_fall_back_to_input(table: PricingTable) -> None:
    usage = Usage(input_tokens=1000, cached_input_tokens=500, cache_creation_tokens=100)
    assert table.cost("gpt-4", usage) == pytest.approx(1000 * 30 / 1e6)


def test_embeddings_cost_input_only(table: PricingTable) -> None:
    assert table.cost("text-embedding-3-small", Usage(input_tokens=1_000_000)) == pytest.approx(
        0.02
    )


def test_anthropic_cache_prices_follow_the_published_multipliers(table: PricingTable) -> None:
    for name in table:
        price = table.get(name)
        assert price is not None
        if price.provider != "anthropic" or name == "claude-3-haiku-20240307":
            continue
        assert price.cache_creation == pytest.approx(1.25 * price.input), name
        assert price.cached_input == pytest.approx(0.1 * price.input), name


# --- the packaged table --------------------------------------------------------------

REQUIRED_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4-turbo",
    "gpt-4",
    "gpt-3.5-turbo",
    "o1",
    "o1-mini",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "claude-3-haiku-20240307",
    "claude-3-5-haiku-20241022",
    "claude-3-5-sonnet-20241022",
    "claude-3-7-sonnet",
    "claude-sonnet-4",
    "claude-sonnet-4-5",
    "claude-opus-4",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "anthropic/claude-3-haiku",
    "anthropic/claude-3.5-sonnet",
    "anthropic/claude-sonnet-4.5",
    "meta-llama/llama-3.1-8b-instruct",
    "google/gemini-flash-1.5",
]


@pytest.mark.parametrize("model", REQUIRED_MODELS)
def test_packaged_table_covers_model(table: PricingTable, model: str) -> None:
    assert model in list(table)  # a canonical entry, not just resolvable
    price = table.get(model)
    assert price is not None
    assert price.context_window is not None
    assert price.provider


def test_packaged_table_is_dated_and_loaded_once(table: PricingTable) -> None:
    assert table.updated is not None
    assert table.source
    assert PricingTable.default() is table


# --- name resolution -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("GPT-4o", "gpt-4o"),  # case-insensitive
        ("gpt-4o-2024-08-06", "gpt-4o"),  # alias
        ("gpt-4-0613", "gpt-4"),  # alias for an undated-rule snapshot
        ("gpt-5-mini-2026-01-01", "gpt-5-mini"),  # dated-snapshot rule
        ("claude-opus-4-1-20990101", "claude-opus-4-1"),  # Anthropic-style date
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),  # alias
        ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),  # Google version suffix
        ("openai/gpt-5", "gpt-5"),  # vendor prefix stripped
        ("azure/gpt-4o-2024-11-20", "gpt-4o"),  # prefix and alias
        ("google/gemini-2.5-flash", "gemini-2.5-flash"),
        ("anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet"),  # OpenRouter entry
    ],
)
def test_name_resolution(table: PricingTable, name: str, canonical: str) -> None:
    price = table.get(name)
    assert price is not None
    assert price.model == canonical


def test_exact_entry_beats_the_snapshot_rule(table: PricingTable) -> None:
    launch = table.get("gpt-4o-2024-05-13")
    assert launch is not None
    assert (launch.input, launch.output) == (5.0, 15.0)


@pytest.mark.parametrize(
    "name", ["ft:gpt-4o-mini:acme::x1", "meta-llama/llama-3.1-8b-instruct:free", "made-up"]
)
def test_unresolvable_names(table: PricingTable, name: str) -> None:
    assert table.get(name) is None
    assert name not in table


# --- unknown models --------------------------------------------------------------------


def test_unknown_model_costs_none_and_warns_once_per_model() -> None:
    table = PricingTable.default().with_overrides({})  # fresh table: fresh warning memory
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert table.cost("acme-llm-9000", Usage(input_tokens=10)) is None
        assert table.cost("acme-llm-9000", Usage(input_tokens=10)) is None
        assert table.cost("acme-llm-9001", Usage(input_tokens=10)) is None
    messages = [str(w.message) for w in caught if issubclass(w.category, UnknownModelPriceWarning)]
    assert len(messages) == 2
    assert "'acme-llm-9000'" in messages[0]
    assert "with_overrides" in messages[0]
    assert PRICING_FILE_ENV in messages[0]


# --- overrides -------------------------------------------------------------------------


def test_override_from_dict_merges_fields_and_leaves_original(table: PricingTable) -> None:
    cheaper = table.with_overrides({"gpt-4o": {"input": 1.0}})
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cheaper.cost("gpt-4o", usage) == pytest.approx(1.0 + 10.0)
    assert cheaper.cost("gpt-4o-2024-08-06", usage) == pytest.approx(11.0)  # aliases kept
    assert table.cost("gpt-4o", usage) == pytest.approx(12.5)  # original untouched


def test_override_adds_new_model_with_aliases(table: PricingTable) -> None:
    extended = table.with_overrides(
        {
            "models": {
                "acme-llm": {
                    "input": 1.0,
                    "output": 2.0,
                    "cached_input": 0.5,
                    "aliases": ["acme-llm-v1"],
                    "provider": "acme",
                }
            }
        }
    )
    usage = Usage(input_tokens=2_000_000, cached_input_tokens=1_000_000, output_tokens=1_000_000)
    assert extended.cost("acme-llm-v1", usage) == pytest.approx(1.0 + 0.5 + 2.0)
    assert len(extended) == len(table) + 1


def test_override_from_file(table: PricingTable, tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"gpt-4o-mini": {"output": 0.5}}}))
    price = table.with_overrides(path).get("gpt-4o-mini")
    assert price is not None
    assert (price.input, price.output) == (0.15, 0.5)


def test_env_var_file_is_merged_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"acme-llm": {"input": 1.0, "output": 2.0}}))
    monkeypatch.setenv(PRICING_FILE_ENV, str(path))
    table = PricingTable.default()
    assert table.cost("acme-llm", Usage(input_tokens=1_000_000)) == pytest.approx(1.0)
    assert table.get("gpt-4o") is not None  # defaults still there

    path.write_text(json.dumps({"acme-llm": {"input": 3.0, "output": 2.0, "note": "edited"}}))
    os.utime(path, ns=(0, 10**18))
    assert PricingTable.default().cost("acme-llm", Usage(input_tokens=1_000_000)) == 3.0


def test_env_var_pointing_nowhere_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRICING_FILE_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError, match=PRICING_FILE_ENV):
        PricingTable.default()


def test_from_file_reads_a_complete_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    document = {
        "updated": "2030-01-01",
        "models": {"m1": {"input": 1, "output": 2, "aliases": ["m1-latest-name"]}},
    }
    path.write_text(json.dumps(document))
    table = PricingTable.from_file(path)
    assert len(table) == 1
    assert table.updated == "2030-01-01"
    assert table.cost("M1-LATEST-NAME", Usage(output_tokens=1_000_000)) == pytest.approx(2.0)


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"gpt-4o": {"input": -1.0}}, "'input'"),
        ({"gpt-4o": {"cached_input": float("nan")}}, "'cached_input'"),
        ({"gpt-4o": {"inptu": 1.0}}, "'inptu'"),
        ({"gpt-4o": {"output": "cheap"}}, "'output'"),
        ({"gpt-4o": {"output": True}}, "'output'"),
        ({"gpt-4o": {"context_window": -5}}, "'context_window'"),
        ({"gpt-4o": {"aliases": "gpt-4o-x"}}, "'aliases'"),
        ({"models": {}, "currencyy": "USD"}, "'currencyy'"),
        ({"models": {}, "currency": "EUR"}, "'currency'"),
        ({"acme-llm": {"input": 1.0}}, "'output'"),  # new model needs both prices
        ({"claude-3-5-sonnet": {"input": 1.0}}, "alias of 'claude-3-5-sonnet-20241022'"),
    ],
)
def test_invalid_overrides_name_the_problem(
    table: PricingTable, overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        table.with_overrides(overrides)
    assert named in str(raised.value)


def test_invalid_json_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        PricingTable.from_file(path)


def test_model_price_rejects_negative_prices() -> None:
    with pytest.raises(ConfigurationError, match="'output'"):
        ModelPrice(input=1.0, output=-0.01, model="x")


# --- properties ------------------------------------------------------------------------

_counts = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(_counts)
    cached = draw(st.integers(min_value=0, max_value=input_tokens))
    creation = draw(st.integers(min_value=0, max_value=input_tokens - cached))
    output = draw(_counts)
    reasoning = draw(st.integers(min_value=0, max_value=output))
    return Usage(input_tokens, output, cached, creation, reasoning)


_priced_models = st.sampled_from(
    ["gpt-4o", "claude-sonnet-4-5", "claude-3-haiku-20240307", "gpt-4", "text-embedding-3-small"]
)
_extra = st.integers(min_value=0, max_value=1_000_000)


@settings(max_examples=300, deadline=None)
@given(a=usages(), b=usages(), model=_priced_models)
def test_cost_is_additive(a: Usage, b: Usage, model: str) -> None:
    table = PricingTable.default()
    cost_a, cost_b, cost_ab = table.cost(model, a), table.cost(model, b), table.cost(model, a + b)
    assert cost_a is not None
    assert cost_b is not None
    assert cost_ab is not None
    assert math.isclose(cost_ab, cost_a + cost_b, rel_tol=1e-9, abs_tol=1e-12)
    assert cost_a >= 0


@settings(max_examples=300, deadline=None)
@given(usage=usages(), model=_priced_models, k=_extra)
def test_cost_is_monotone_in_each_token_type(usage: Usage, model: str, k: int) -> None:
    table = PricingTable.default()
    base = table.cost(model, usage)
    assert base is not None
    more = [
        Usage(input_tokens=k),  # uncached input
        Usage(input_tokens=k, cached_input_tokens=k),  # cache reads
        Usage(input_tokens=k, cache_creation_tokens=k),  # cache writes
        Usage(output_tokens=k),
        Usage(output_tokens=k, reasoning_tokens=k),
    ]
    for extra in more:
        bigger = table.cost(model, usage + extra)
        assert bigger is not None
        assert bigger >= base - 1e-12 * max(1.0, base)
