"""The output length model: deterministic per prompt, the same for every model, chosen by
tag or prompt text, exact in `usage`, configurable in Python and over HTTP."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ai.testing import FakeProviderServer, LengthRule, OutputLengths, TokenLengths
from ai.testing.reply_lengths import filler_text, prompt_text, reply_text
from ai.testing.token_counting import count_tokens

SUMMARY = LengthRule(TokenLengths(129, sigma=0.86), contains="Summarise the text")
CODE = LengthRule(TokenLengths(400, sigma=0.5, maximum=2000), tag="code")
MODEL = OutputLengths(rules=[SUMMARY, CODE], default=None, seed=11)


@pytest.fixture
def sized(fake: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The shared fake with the length model above; removed afterwards."""
    fake.lengths = MODEL
    yield fake
    fake.lengths = None


def chat(system: str, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        **extra,
    }


def test_token_lengths_quantiles_and_validation() -> None:
    lengths = TokenLengths(100, sigma=1.0, minimum=10, maximum=300)
    assert lengths.at(0.5) == 100
    assert lengths.at(1e-9) == 10 and lengths.at(1 - 1e-9) == 300
    assert lengths.at(0.8) > 100 > lengths.at(0.2)
    assert TokenLengths(42).at(0.99) == 42
    for bad in ({"median": 0}, {"median": 5, "maximum": 4}, {"median": 5, "sigma": -1}):
        with pytest.raises(ValueError, match=r"must|need"):
            TokenLengths(**bad)


def test_rules_need_exactly_one_key() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        LengthRule(TokenLengths(5))
    with pytest.raises(ValueError, match="exactly one"):
        LengthRule(TokenLengths(5), tag="a", contains="b")


def test_draws_are_deterministic_per_prompt_and_follow_the_distribution() -> None:
    body = chat("Summarise the text below.", "A long article about ships.")
    assert MODEL.tokens_for(body) == MODEL.tokens_for(dict(body))
    draws = [MODEL.tokens_for(chat("Summarise the text", f"document {i}")) for i in range(400)]
    assert all(isinstance(d, int) for d in draws)
    assert 100 <= statistics.median(d for d in draws if d is not None) <= 165
    reseeded = OutputLengths(rules=[SUMMARY], seed=12)
    redrawn = [reseeded.tokens_for(chat("Summarise the text", f"doc {i}")) for i in range(20)]
    assert redrawn != [MODEL.tokens_for(chat("Summarise the text", f"doc {i}")) for i in range(20)]


def test_tag_then_prompt_then_default() -> None:
    tagged = chat("Summarise the text", "x", metadata={"length_tag": "code"})
    assert MODEL.tokens_for(chat("Write code", "x")) is None
    assert MODEL.tokens_for(tagged) == CODE.lengths.at(MODEL._quantile(prompt_text(tagged)))
    with_default = OutputLengths(rules=[SUMMARY], default=TokenLengths(7))
    assert with_default.tokens_for(chat("Classify", "spam?")) == 7


def test_non_prose_requests_keep_their_usual_answers() -> None:
    fallback = OutputLengths(default=TokenLengths(50))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    assert fallback.tokens_for(chat("s", "u", tools=tools)) is None
    assert fallback.tokens_for(chat("s", "u", response_format={"type": "json_object"})) is None
    tool_turn = {"messages": [{"role": "tool", "tool_call_id": "c", "content": "42"}]}
    assert fallback.tokens_for(tool_turn) is None
    assert reply_text("pushed", fallback, chat("s", "u")) == "pushed"
    assert reply_text(None, None, chat("s", "u")) is None


@pytest.mark.parametrize("tokens", [1, 7, 129, 1000])
def test_filler_text_has_exactly_that_many_tokens(tokens: int) -> None:
    assert count_tokens(filler_text(tokens, 0.37)) == tokens


def test_prompt_text_reads_both_wire_formats() -> None:
    anthropic = {
        "system": [{"type": "text", "text": "Summarise the text"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "doc"}]}],
    }
    assert prompt_text(anthropic) == "Summarise the text\ndoc"
    assert prompt_text(chat("sys", "user")) == "sys\nuser"


def test_cheap_and_expensive_models_answer_with_the_same_length(
    sized: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    body = chat("Summarise the text below.", "The quarterly report says ...")
    usages = [
        http.post(
            "/v1/chat/completions", json={**body, "model": model}, headers=openai_headers
        ).json()["usage"]["completion_tokens"]
        for model in ("gpt-4o", "gpt-4o-mini")
    ]
    assert usages[0] == usages[1] == MODEL.tokens_for(body)


def test_anthropic_answers_use_the_model_too(
    sized: FakeProviderServer, http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4000,
        "system": "Summarise the text below.",
        "messages": [{"role": "user", "content": "The quarterly report says ..."}],
    }
    answer = http.post("/v1/messages", json=body, headers=anthropic_headers).json()
    expected = MODEL.tokens_for(chat("Summarise the text below.", "The quarterly report says ..."))
    assert answer["usage"]["output_tokens"] == expected
    assert count_tokens(answer["content"][0]["text"]) == expected


def test_max_tokens_cuts_a_long_answer(
    sized: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    body = {**chat("Summarise the text", "doc", max_tokens=3), "model": "gpt-4o"}
    answer = http.post("/v1/chat/completions", json=body, headers=openai_headers).json()
    assert answer["usage"]["completion_tokens"] == 3
    assert answer["choices"][0]["finish_reason"] == "length"


def test_lengths_over_http(fake: FakeProviderServer, http: httpx.Client) -> None:
    body = {
        "seed": 3,
        "default": {"median": 20},
        "rules": [{"contains": "Summarise", "median": 129, "sigma": 0.86}],
    }
    try:
        created = http.post("/_fake/lengths", json=body)
        assert created.status_code == 201
        assert fake.lengths is not None and fake.lengths.seed == 3
        assert created.json()["lengths"]["rules"][0] == {
            "contains": "Summarise",
            "median": 129,
            "sigma": 0.86,
            "minimum": 1,
            "maximum": 4096,
        }
        http.post("/_fake/reset")
        assert http.get("/_fake/lengths").json()["lengths"]["default"]["median"] == 20
        assert http.delete("/_fake/lengths").json() == {"cleared": 1}
        assert http.get("/_fake/lengths").json() == {"lengths": None}
    finally:
        fake.lengths = None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rules": [{"median": 5}]}, "exactly one"),
        ({"rules": [{"tag": "a"}]}, "median"),
        ({"rules": [{"tag": "a", "median": 5, "mean": 3}]}, "unknown"),
        ({"default": {"median": "5"}}, "integer"),
        ({"seed": 1.5}, "seed"),
        ({"rules": "x"}, "list"),
        ({"style": 1}, "unknown"),
    ],
)
def test_bad_length_bodies_get_400(
    fake: FakeProviderServer, http: httpx.Client, body: Any, message: str
) -> None:
    response = http.post("/_fake/lengths", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert fake.lengths is None
