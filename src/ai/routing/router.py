"""`ModelRouter`: rules, hints and an optional classifier choose the model of a call."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ai.accounting.tokens import count_message_tokens
from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import Operation, TagKey
from ai.errors import ConfigurationError
from ai.routing.classifier import ComplexityClassifier

logger = logging.getLogger(__name__)


class Complexity(StrEnum):
    """How demanding a task is."""

    SIMPLE = "simple"
    COMPLEX = "complex"


@dataclass(frozen=True, slots=True)
class RouterRule:
    """One rule: when every condition given holds, the task is `complexity`.

    `max_prompt_tokens`/`min_prompt_tokens` bound the counted prompt; `has_tools` matches
    calls with (True) or without (False) tools; `categories` matches the template category
    tag (`TagKey.CATEGORY`). Rules are tried in order; the first that matches decides.
    """

    name: str
    complexity: Complexity
    max_prompt_tokens: int | None = None
    min_prompt_tokens: int | None = None
    has_tools: bool | None = None
    categories: frozenset[str] = frozenset()

    def matches(self, prompt_tokens: int, has_tools: bool, category: str | None) -> bool:
        checks = (
            self.max_prompt_tokens is None or prompt_tokens <= self.max_prompt_tokens,
            self.min_prompt_tokens is None or prompt_tokens >= self.min_prompt_tokens,
            self.has_tools is None or has_tools == self.has_tools,
            not self.categories or (category is not None and category in self.categories),
        )
        return all(checks)


DEFAULT_RULES: tuple[RouterRule, ...] = (
    RouterRule("tools", Complexity.COMPLEX, has_tools=True),
    RouterRule(
        "hard_category",
        Complexity.COMPLEX,
        categories=frozenset(
            {"architecture", "code_generation", "security_review", "debugging", "refactoring"}
        ),
    ),
    RouterRule(
        "easy_category",
        Complexity.SIMPLE,
        categories=frozenset({"summarization", "documentation", "general"}),
        max_prompt_tokens=2000,
    ),
    RouterRule("long_prompt", Complexity.COMPLEX, min_prompt_tokens=4000),
    RouterRule("short_prompt", Complexity.SIMPLE, max_prompt_tokens=200, has_tools=False),
)
"""Conservative defaults: tools, hard template categories and long prompts go to the
capable model; summaries and short plain questions to the cheap one; anything else is
left to the classifier, if any, else to the capable model."""


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """What the router concluded and why (`source`: hint, rule:<name>, classifier, default)."""

    complexity: Complexity
    model: str
    source: str
    confidence: float | None = None


@dataclass
class ModelRouter(PassThroughGuard):
    """A guard choosing between `cheap` and `capable` for calls that ask for `capable` or
    for one of `aliases` (e.g. "auto"); other calls pass untouched.

    Decision order: a `complexity` tag from the caller ("simple"/"complex"), then the
    rules, then the classifier when its confidence reaches `min_confidence`, else the
    capable model. The call's tags get `route` (e.g. "simple:rule:short_prompt") and, when
    the cheap model was chosen, `routed_from` (the capable model), so savings can be priced.
    """

    cheap: str
    capable: str
    aliases: Sequence[str] = ("auto",)
    rules: Sequence[RouterRule] = DEFAULT_RULES
    classifier: ComplexityClassifier | None = None
    min_confidence: float = 0.8
    name: str = "router"
    decisions: list[RouteDecision] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.cheap or not self.capable or self.cheap == self.capable:
            raise ConfigurationError("ModelRouter needs two different models: cheap and capable.")
        if not 0 < self.min_confidence <= 1:
            raise ConfigurationError(f"min_confidence must be in (0, 1], got {self.min_confidence}")

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        if call.operation is not Operation.CHAT:
            return None
        if call.model != self.capable and call.model not in self.aliases:
            return None
        decision = await self.decide(call.inputs, call.parameters, call.tags)
        self.decisions.append(decision)
        if len(self.decisions) > 1000:
            del self.decisions[:500]
        tags = {**call.tags, **self.route_tags(decision)}
        return call.replace(model=decision.model, tags=tags)

    def route_tags(self, decision: RouteDecision) -> dict[str, str]:
        """The tags a decision adds to its call: `route` ("<complexity>:<source>") and,
        when the cheap model was chosen, `routed_from` (what `routing_savings` prices).
        Public for callers that decide with `decide` and call the model themselves."""
        tags = {TagKey.ROUTE.value: f"{decision.complexity}:{decision.source}"}
        if decision.model == self.cheap:
            tags[TagKey.ROUTED_FROM.value] = self.capable
        return tags

    async def decide(
        self,
        messages: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> RouteDecision:
        """The decision for one request (also usable without a call, e.g. by a gateway)."""
        hint = tags.get(TagKey.COMPLEXITY.value)
        if hint in (Complexity.SIMPLE, Complexity.COMPLEX):
            return self._decision(Complexity(hint), "hint")
        tokens = count_message_tokens(messages, self.capable).tokens
        has_tools = bool(parameters.get("tools"))
        category = tags.get(TagKey.CATEGORY.value)
        for rule in self.rules:
            if rule.matches(tokens, has_tools, category):
                return self._decision(rule.complexity, f"rule:{rule.name}")
        if self.classifier is not None:
            complexity, confidence = await self.classifier.classify(_last_user_text(messages))
            if confidence >= self.min_confidence:
                return self._decision(complexity, "classifier", confidence)
        return self._decision(Complexity.COMPLEX, "default")

    def _decision(
        self, complexity: Complexity, source: str, confidence: float | None = None
    ) -> RouteDecision:
        model = self.cheap if complexity is Complexity.SIMPLE else self.capable
        return RouteDecision(complexity, model, source, confidence)


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""
