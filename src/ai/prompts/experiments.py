"""The A/B hook between templates and experiments, with a tested default.

A template that names an `experiment` asks a `PromptExperiments` which variant a caller
gets; a variant names a label (or a version, `v3`) of the template. Every render under an
experiment is reported back as an `Exposure`, so results can be compared per version.
`ml_ops.ab_testing` implements the same protocol for managed experiments; until then
`WeightedSplit` does the job in-process.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ai.errors import TemplateError

MAX_KEPT_EXPOSURES = 10_000


@dataclass(frozen=True, slots=True)
class Exposure:
    """One render under an experiment: who saw which variant, and which version it was."""

    experiment: str
    variant: str
    template: str
    version: int
    subject: str | None
    at: datetime


@runtime_checkable
class PromptExperiments(Protocol):
    """What `TemplateManager` asks when a template names an experiment."""

    def assign(self, experiment: str, *, subject: str | None) -> str | None:
        """The variant for `subject` (sticky when given), or None if the experiment is off."""
        ...

    def record(self, exposure: Exposure) -> None:
        """Note that a variant was served; must be quick and must not raise."""
        ...


class WeightedSplit:
    """Weighted random variants; the same subject always gets the same variant.

    With a subject, the variant comes from a hash of (experiment, subject), so assignment
    is sticky across processes and restarts; without one, from `rng`. Exposures are counted
    per (variant, version), and the latest `MAX_KEPT_EXPOSURES` are kept for inspection.
    """

    def __init__(
        self,
        experiments: Mapping[str, Mapping[str, float]] | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._weights: dict[str, dict[str, float]] = {}
        self._rng = rng or random.Random()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._recent: deque[Exposure] = deque(maxlen=MAX_KEPT_EXPOSURES)
        for name, weights in (experiments or {}).items():
            self.define(name, weights)

    def define(self, experiment: str, weights: Mapping[str, float]) -> None:
        """Start (or replace) `experiment` with variant -> weight (any positive scale)."""
        if not weights:
            raise TemplateError(f"experiment {experiment!r} needs at least one variant")
        for variant, weight in weights.items():
            if not isinstance(variant, str) or not variant:
                raise TemplateError(f"experiment {experiment!r}: bad variant name {variant!r}")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise TemplateError(
                    f"experiment {experiment!r}: weight of {variant!r} is not a number"
                )
            if not math.isfinite(weight) or weight < 0:
                raise TemplateError(
                    f"experiment {experiment!r}: weight of {variant!r} must be >= 0"
                )
        if sum(weights.values()) <= 0:
            raise TemplateError(f"experiment {experiment!r}: the weights sum to zero")
        self._weights[experiment] = dict(weights)

    def stop(self, experiment: str) -> None:
        """Stop assigning variants; templates fall back to their production version."""
        self._weights.pop(experiment, None)

    def assign(self, experiment: str, *, subject: str | None) -> str | None:
        weights = self._weights.get(experiment)
        if weights is None:
            return None
        point = self._rng.random() if subject is None else _unit_hash(experiment, subject)
        target = point * sum(weights.values())
        running = 0.0
        chosen = ""
        for variant, weight in weights.items():
            if weight <= 0:
                continue
            chosen = variant
            running += weight
            if target < running:
                break
        return chosen

    def record(self, exposure: Exposure) -> None:
        self._counts[(exposure.experiment, exposure.variant, exposure.version)] += 1
        self._recent.append(exposure)

    def counts(self, experiment: str) -> dict[tuple[str, int], int]:
        """Renders per (variant, version) of `experiment` since this object was made."""
        return {
            (variant, version): count
            for (name, variant, version), count in self._counts.items()
            if name == experiment
        }

    @property
    def exposures(self) -> tuple[Exposure, ...]:
        """The most recent exposures, oldest first."""
        return tuple(self._recent)


def _unit_hash(experiment: str, subject: str) -> float:
    """A stable point in [0, 1) for this subject in this experiment."""
    digest = hashlib.sha256(f"{experiment}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
