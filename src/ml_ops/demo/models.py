"""Which models the tour's gateway aliases name, on the fakes or on real providers.

Three aliases, as an application would configure them:

    fast   the cheap everyday model, with a fallback on another provider
    smart  the capable model, with a fallback on another provider (the outage hits it)
    auto   a router alias (`kind: router`): `ai.routing.ModelRouter` sends short requests
           to `fast` and keeps long pastes, tools and hard categories on `smart`
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FAST, SMART, AUTO = "fast", "smart", "auto"


@dataclass(frozen=True, slots=True)
class Target:
    """One model on one provider."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class AliasPlan:
    """An alias: its primary model and the fallbacks tried in order."""

    name: str
    primary: Target
    fallbacks: tuple[Target, ...] = ()


@dataclass(frozen=True, slots=True)
class RouterPlan:
    """A router alias over two model aliases."""

    name: str
    cheap: str
    capable: str


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """The model aliases, the router alias over them, and the model `smart` fails over
    to (watched by the tour's failover alert; None without a fallback)."""

    aliases: tuple[AliasPlan, ...]
    router: RouterPlan
    failover_model: str | None


FAKE_PLAN = ModelPlan(
    aliases=(
        AliasPlan(
            FAST, Target("openai", "gpt-4o-mini"), (Target("anthropic", "claude-haiku-4-5"),)
        ),
        AliasPlan(SMART, Target("openai", "gpt-4o"), (Target("anthropic", "claude-sonnet-4-5"),)),
    ),
    router=RouterPlan(AUTO, cheap=FAST, capable=SMART),
    failover_model="claude-sonnet-4-5",
)
"""On the fakes: every provider is there, so each alias has a fallback elsewhere."""


# Per provider with a key: (the fast model, the smart model).
_REAL_MODELS: Mapping[str, tuple[str, str]] = {
    "openai": ("gpt-4o-mini", "gpt-4o"),
    "anthropic": ("claude-haiku-4-5", "claude-sonnet-4-5"),
    "openrouter": ("openai/gpt-4o-mini", "openai/gpt-4o"),
}


def real_plan(providers: tuple[str, ...]) -> ModelPlan:
    """The aliases over the providers whose keys are set (in order of preference): the
    first serves each alias, the others are its fallbacks."""
    if not providers:
        raise ValueError("real_plan needs at least one provider")
    aliases = tuple(
        AliasPlan(
            name,
            Target(providers[0], _REAL_MODELS[providers[0]][index]),
            tuple(Target(p, _REAL_MODELS[p][index]) for p in providers[1:]),
        )
        for index, name in enumerate((FAST, SMART))
    )
    failover = aliases[1].fallbacks[0].model if aliases[1].fallbacks else None
    return ModelPlan(aliases, RouterPlan(AUTO, cheap=FAST, capable=SMART), failover)


__all__ = [
    "AUTO",
    "FAKE_PLAN",
    "FAST",
    "SMART",
    "AliasPlan",
    "ModelPlan",
    "RouterPlan",
    "Target",
    "real_plan",
]
