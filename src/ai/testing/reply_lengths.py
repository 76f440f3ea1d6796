"""How long the fake's answers are: an output length model for realistic upstreams.

By default the fake answers with one short sentence. For cost and latency benchmarks the
answer length matters: a summary is a paragraph, generated code a page. `OutputLengths`
draws each answer's length in tokens from a log-normal distribution chosen per request:

* by a tag the request carries (OpenAI-format `metadata={"length_tag": "code"}`), or
* by text the prompt contains (a template's system prompt, say "Summarise the text"),
* else from `default` (None: the usual short answer).

The draw is deterministic: a hash of `seed` and the prompt's text picks the quantile, so
the same prompt gets the same length from every model. An expensive and a cheap model
therefore answer a request with comparable lengths, and a benchmark's arms stay
comparable. The answer is that many tokens of plain words (one token each in cl100k, one
word each for the fallback counter), so `usage.completion_tokens` is exactly the length
drawn, unless `max_tokens` cuts it, as it would a real answer.

Requests that expect something other than prose keep the usual answers: tool calls,
tool results, JSON modes. A reply pushed with `fake.replies.push()` still wins.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

_WORDS_TEXT = (
    "the model answer data code value result system function request user time first second "
    "next list table query text field option report update point change case step part test rule"
)
_WORDS = tuple(_WORDS_TEXT.split(" "))  # one cl100k token each, with or without a leading space
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class TokenLengths:
    """Answer lengths in tokens: log-normal with this `median` and log-space standard
    deviation `sigma` (0: always the median), clipped to [`minimum`, `maximum`]."""

    median: int
    sigma: float = 0.0
    minimum: int = 1
    maximum: int = 4096

    def __post_init__(self) -> None:
        if self.minimum < 1 or self.maximum < self.minimum:
            raise ValueError(
                f"need 1 <= minimum <= maximum, got minimum={self.minimum} maximum={self.maximum}"
            )
        if not self.minimum <= self.median <= self.maximum:
            raise ValueError(f"median {self.median} must lie in [minimum, maximum]")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma}")

    def at(self, quantile: float) -> int:
        """The length at `quantile` (strictly between 0 and 1) of the distribution."""
        scaled = self.median * math.exp(self.sigma * _STANDARD_NORMAL.inv_cdf(quantile))
        return max(self.minimum, min(self.maximum, round(scaled)))

    def describe(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "median": self.median,
            "sigma": self.sigma,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


@dataclass(frozen=True, slots=True)
class LengthRule:
    """Requests whose `tag` is this one, or whose prompt contains `contains`, get
    `lengths` (give one of the two)."""

    lengths: TokenLengths
    tag: str | None = None
    contains: str | None = None

    def __post_init__(self) -> None:
        if (self.tag is None) == (self.contains is None) or not (self.tag or self.contains):
            raise ValueError("a LengthRule needs exactly one of a non-empty tag or contains")

    def matches(self, tag: str | None, prompt: str) -> bool:
        """Whether a request with this tag and prompt text falls under the rule."""
        if self.tag is not None:
            return tag == self.tag
        return self.contains is not None and self.contains in prompt

    def describe(self) -> dict[str, Any]:
        """JSON form."""
        key = {"tag": self.tag} if self.tag is not None else {"contains": self.contains}
        return {**key, **self.lengths.describe()}


@dataclass(frozen=True, slots=True)
class OutputLengths:
    """The length model: the rules with a tag, then those matching text, each in order, then
    `default`; `seed` varies the draws."""

    rules: Sequence[LengthRule] = ()
    default: TokenLengths | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def tokens_for(self, body: Mapping[str, Any]) -> int | None:
        """The answer length for a request body (OpenAI or Anthropic format), or None to
        answer as usual."""
        if not plain_text_request(body):
            return None
        prompt = prompt_text(body)
        tag = _length_tag(body)
        by_tag = (r.lengths for r in self.rules if r.tag is not None and r.matches(tag, prompt))
        by_text = (r.lengths for r in self.rules if r.tag is None and r.matches(tag, prompt))
        lengths = next(by_tag, None) or next(by_text, self.default)
        if lengths is None:
            return None
        return lengths.at(self._quantile(prompt))

    def reply_for(self, body: Mapping[str, Any]) -> str | None:
        """The answer text for a request body, or None to answer as usual."""
        tokens = self.tokens_for(body)
        if tokens is None:
            return None
        return filler_text(tokens, self._quantile(prompt_text(body)))

    def _quantile(self, prompt: str) -> float:
        digest = hashlib.sha256(f"{self.seed}\x00{prompt}".encode()).digest()
        return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_fake/lengths`."""
        return {
            "seed": self.seed,
            "default": None if self.default is None else self.default.describe(),
            "rules": [rule.describe() for rule in self.rules],
        }


def filler_text(tokens: int, quantile: float = 0.0) -> str:
    """`tokens` plain words (exactly that many cl100k tokens), varied by `quantile`."""
    start = int(quantile * len(_WORDS))
    return " ".join(_WORDS[(start + 7 * i) % len(_WORDS)] for i in range(tokens))


def reply_text(pushed: str | None, lengths: OutputLengths | None, body: Any) -> str | None:
    """The text the next answer uses: a pushed reply, else the length model's, else None
    (the usual deterministic answer)."""
    if pushed is not None or lengths is None or not isinstance(body, Mapping):
        return pushed
    return lengths.reply_for(body)


def plain_text_request(body: Mapping[str, Any]) -> bool:
    """True unless the request offers tools, asks for JSON, or answers a tool call."""
    if body.get("tools"):
        return False
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") not in (None, "text"):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") == "tool":
        return False
    content = last.get("content")
    return not (
        isinstance(content, list)
        and any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content)
    )


def prompt_text(body: Mapping[str, Any]) -> str:
    """The text of the system prompt and every message, in order, either wire format."""
    parts = [_text_of(body.get("system"))]
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, Mapping):
            parts.append(_text_of(message.get("content")))
    return "\n".join(part for part in parts if part)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"]
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        )
    return ""


def _length_tag(body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("length_tag"), str):
        return str(metadata["length_tag"])
    return None


_LENGTH_FIELDS = frozenset({"median", "sigma", "minimum", "maximum"})


def lengths_from_json(data: object) -> OutputLengths:
    """Parse the body of `POST /_fake/lengths`; raises ValueError naming what is wrong.

    `{"seed": 7, "default": {"median": 150, "sigma": 0.8}, "rules": [{"contains":
    "Summarise", "median": 129, "sigma": 0.86}, {"tag": "code", "median": 400}]}`
    """
    if not isinstance(data, Mapping):
        raise ValueError('the body must be a JSON object: {"rules": [...], "default": ...}')
    unknown = set(data) - {"seed", "default", "rules"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; known: default, rules, seed")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError("'seed' must be an integer")
    rules_data = data.get("rules", [])
    if not isinstance(rules_data, list):
        raise ValueError("'rules' must be a list")
    default = data.get("default")
    return OutputLengths(
        rules=[_rule_from_json(rule) for rule in rules_data],
        default=None if default is None else _token_lengths(default, frozenset()),
        seed=seed,
    )


def _rule_from_json(data: object) -> LengthRule:
    if not isinstance(data, Mapping):
        raise ValueError("each rule must be an object with 'tag' or 'contains' and a 'median'")
    lengths = _token_lengths(data, frozenset({"tag", "contains"}))
    for key in ("tag", "contains"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"'{key}' must be a string")
    return LengthRule(lengths, tag=data.get("tag"), contains=data.get("contains"))


def _token_lengths(data: object, extra: frozenset[str]) -> TokenLengths:
    if not isinstance(data, Mapping):
        raise ValueError("lengths must be an object with at least a 'median'")
    unknown = set(data) - _LENGTH_FIELDS - extra
    if unknown:
        raise ValueError(f"unknown length fields {sorted(unknown)}")
    if "median" not in data:
        raise ValueError("lengths need a 'median' (tokens)")
    values: dict[str, Any] = {}
    for name in _LENGTH_FIELDS & set(data):
        value = data[name]
        integer = name != "sigma"
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            raise ValueError(f"'{name}' must be {'an integer' if integer else 'a number'}")
        values[name] = value
    return TokenLengths(**values)
