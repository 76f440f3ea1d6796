"""Thompson sampling for a bandit mode: send more traffic to the variants that look best.

Each variant's rate gets a Beta posterior (uniform prior unless given); the allocation
weight of a variant is the posterior probability that it is the best, estimated from
`draws` seeded joint draws. `floor` keeps a minimum share for every variant so that none
starves and estimates keep improving.

A bandit minimises the cost of exploring; it does not produce a clean comparison. Weights
change with the data, so: fixed-horizon p-values and confidence intervals do **not** apply
(the flag `fixed_horizon_p_values_apply` is always False), the sample ratio mismatch check
against configured weights does not apply, and time trends (weekday vs weekend) get
confounded with variants. Report the posteriors, or run a fixed-split experiment when you
need a significance statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_ops.ab_testing.statistics.bayesian import BetaPrior
from ml_ops.ab_testing.statistics.results import Direction
from ml_ops.ab_testing.statistics.summaries import ProportionSummary

BANDIT_NOTE = (
    "bandit allocation: weights adapt to the data, so fixed-horizon p-values, confidence "
    "intervals and the sample ratio mismatch check do not apply"
)


@dataclass(frozen=True, slots=True)
class BanditAllocation:
    """Traffic weights by variant (summing to 1) and how they were drawn."""

    weights: dict[str, float]
    draws: int
    seed: int
    floor: float
    fixed_horizon_p_values_apply: bool = False
    note: str = BANDIT_NOTE

    def to_dict(self) -> dict[str, Any]:
        """The allocation as plain JSON types."""
        return {
            "weights": dict(self.weights),
            "draws": self.draws,
            "seed": self.seed,
            "floor": self.floor,
            "fixed_horizon_p_values_apply": self.fixed_horizon_p_values_apply,
            "note": self.note,
        }


def thompson_weights(
    arms: Mapping[str, ProportionSummary],
    *,
    prior: BetaPrior | None = None,
    direction: Direction = Direction.HIGHER_IS_BETTER,
    draws: int = 10_000,
    seed: int = 0,
    floor: float = 0.0,
) -> BanditAllocation:
    """Thompson-sampling weights: P(variant is best | data), each at least `floor`
    (then rescaled so the weights sum to 1)."""
    if len(arms) < 2:
        raise ValueError("a bandit needs at least two variants")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if not 0.0 <= floor * len(arms) <= 1.0:
        raise ValueError(f"floor must be in [0, 1/{len(arms)}], got {floor}")
    prior = prior or BetaPrior()
    rng = np.random.default_rng(seed)
    samples = np.stack([rng.beta(*prior.posterior(s), size=draws) for s in arms.values()])
    higher = direction is Direction.HIGHER_IS_BETTER
    best = samples.argmax(axis=0) if higher else samples.argmin(axis=0)
    share = np.bincount(best, minlength=len(arms)) / draws
    weights = floor + (1.0 - floor * len(arms)) * share
    return BanditAllocation(
        weights={name: float(w) for name, w in zip(arms, weights, strict=True)},
        draws=draws,
        seed=seed,
        floor=floor,
    )
