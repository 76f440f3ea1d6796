"""Model selection: the cheap model for simple tasks, the capable one for complex tasks.

`ModelRouter` is a guard (`LLMService(config, guards=[router])`) that sends a call asking
for its capable model (or for its alias, e.g. "auto") to the cheap model when rules, a
caller's hint or an optional embedding classifier say the task is simple; when unsure it
keeps the capable model. Each decision is in the call's record (guard decision and tags),
and `routing_savings` prices what the cheap model saved against always using the capable one.
"""

from ai.routing.classifier import ComplexityClassifier
from ai.routing.router import (
    DEFAULT_RULES,
    Complexity,
    ModelRouter,
    RouteDecision,
    RouterRule,
)
from ai.routing.savings import RoutingSavings, routing_savings

__all__ = [
    "DEFAULT_RULES",
    "Complexity",
    "ComplexityClassifier",
    "ModelRouter",
    "RouteDecision",
    "RouterRule",
    "RoutingSavings",
    "routing_savings",
]
