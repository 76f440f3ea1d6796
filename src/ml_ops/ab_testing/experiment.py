"""`Experiment`: what is compared, on which metric, and how the result is judged.

An experiment is a value, validated when built: at least two variants with distinct
names, weights with a positive sum, a control among them (the first variant unless
named), a primary metric, and the statistics settings that decide a winner (`mode`,
`alpha`, `power`, `min_detectable_effect` or a given `minimum_sample_size`). Its state
(draft, running, ...) lives in `ml_ops.ab_testing.state`, not here, so a definition can be
compared, stored and re-created as it is.

Metrics: `success_rate` (a rate; higher is better), `latency_ms` and `cost` (means; lower
is better), and any custom numeric metric passed to `track_result(metrics=...)` (a mean;
higher is better unless `directions` says otherwise).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from ai.errors import ConfigurationError
from ml_ops.ab_testing.errors import ExperimentNotFoundError
from ml_ops.ab_testing.statistics import AnalysisMode, Direction, EffectScale
from ml_ops.ab_testing.variant import Variant, check_name

SUCCESS_RATE = "success_rate"
LATENCY = "latency_ms"
COST = "cost"
BUILTIN_METRICS = (SUCCESS_RATE, LATENCY, COST)
DEFAULT_DIRECTIONS = MappingProxyType(
    {
        SUCCESS_RATE: Direction.HIGHER_IS_BETTER,
        LATENCY: Direction.LOWER_IS_BETTER,
        COST: Direction.LOWER_IS_BETTER,
    }
)
METRIC_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
"""Custom metric names: an identifier-like word of at most 64 characters."""

_E = TypeVar("_E", bound=StrEnum)


class Allocation(StrEnum):
    """How traffic is split: by the fixed weights, or by Thompson sampling (a bandit)."""

    FIXED = "fixed"
    BANDIT = "bandit"


def check_metric(name: object, what: str = "metric") -> str:
    """`name` if it names a metric, else `ConfigurationError`."""
    if not isinstance(name, str) or not METRIC_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"{what} {name!r} is not a metric name: success_rate, latency_ms, cost, or a "
            "custom name (letters, digits, _ . -, starting with a letter or _)"
        )
    return name


@dataclass(frozen=True)
class Experiment:
    """An A/B test of prompts, templates, models or parameters (see the module docstring).

    Statistics settings: `mode` is fixed-horizon (read once, at the planned size) or
    sequential (look as often as you like); `minimum_sample_size` per variant is given, or
    planned from `min_detectable_effect` (relative unless `effect_scale` says absolute),
    `alpha`, `power` and `baseline` (the control's expected rate or mean; the control's
    observed value when None). `covariate` names a custom metric measured before
    assignment, for CUPED. `auto_complete` ends the experiment as soon as a winner is
    decided and sends all traffic to it. `allocation="bandit"` lets Thompson sampling set
    the weights (success_rate only; no p-values then). `template` names the prompt
    template whose `production` label follows the winner. `salt` (default: the name)
    seeds the hash that assigns units to variants.
    """

    name: str
    variants: Sequence[Variant]
    description: str = ""
    primary_metric: str = SUCCESS_RATE
    control: str | None = None
    mode: AnalysisMode = AnalysisMode.FIXED_HORIZON
    allocation: Allocation = Allocation.FIXED
    alpha: float = 0.05
    power: float = 0.8
    min_detectable_effect: float = 0.1
    effect_scale: EffectScale = EffectScale.RELATIVE
    baseline: float | None = None
    minimum_sample_size: int | None = None
    covariate: str | None = None
    directions: Mapping[str, Direction] = field(default_factory=dict, hash=False)
    auto_complete: bool = False
    template: str | None = None
    salt: str | None = None
    bandit_floor: float = 0.05

    def __post_init__(self) -> None:
        check_name(self.name, "experiment name")
        set_ = object.__setattr__
        set_(self, "variants", _checked_variants(self.name, self.variants))
        names = [v.name for v in self.variants]
        set_(self, "control", names[0] if self.control is None else self.control)
        if self.control not in names:
            raise ConfigurationError(
                f"experiment {self.name!r}: control {self.control!r} is not a variant {names}"
            )
        set_(self, "mode", _enum(AnalysisMode, self.mode, "mode"))
        set_(self, "allocation", _enum(Allocation, self.allocation, "allocation"))
        set_(self, "effect_scale", _enum(EffectScale, self.effect_scale, "effect_scale"))
        check_metric(self.primary_metric, "primary_metric")
        set_(self, "directions", _checked_directions(self.directions))
        set_(self, "salt", self.name if self.salt is None else self.salt)
        if not isinstance(self.salt, str) or not self.salt:
            raise ConfigurationError(f"experiment {self.name!r}: salt must be non-empty text")
        self._check_statistics()
        self._check_covariate_and_bandit()

    def _check_statistics(self) -> None:
        for key in ("alpha", "power"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0 < value < 1:
                raise ConfigurationError(f"experiment {self.name!r}: {key} must be in (0, 1)")
        mde = self.min_detectable_effect
        if not isinstance(mde, int | float) or not math.isfinite(mde) or mde == 0:
            raise ConfigurationError(
                f"experiment {self.name!r}: min_detectable_effect must be a non-zero number"
            )
        size = self.minimum_sample_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigurationError(
                f"experiment {self.name!r}: minimum_sample_size must be an integer >= 1"
            )
        if self.baseline is not None and not math.isfinite(self.baseline):
            raise ConfigurationError(f"experiment {self.name!r}: baseline must be finite")
        rate = self.primary_metric == SUCCESS_RATE
        if rate and self.baseline is not None and not 0 < self.baseline < 1:
            raise ConfigurationError(
                f"experiment {self.name!r}: the baseline of success_rate is a rate in (0, 1), "
                f"got {self.baseline}"
            )

    def _check_covariate_and_bandit(self) -> None:
        if self.covariate is not None:
            check_metric(self.covariate, "covariate")
            if self.covariate in BUILTIN_METRICS or self.covariate == self.primary_metric:
                raise ConfigurationError(
                    f"experiment {self.name!r}: the covariate must be a custom metric measured "
                    "before assignment, not the primary metric or a built-in one"
                )
        if self.allocation is Allocation.BANDIT:
            if self.primary_metric != SUCCESS_RATE or self.covariate is not None:
                raise ConfigurationError(
                    f"experiment {self.name!r}: a bandit allocates on success_rate only, "
                    "without a covariate"
                )
            if not 0 <= self.bandit_floor <= 1 / len(self.variants):
                raise ConfigurationError(
                    f"experiment {self.name!r}: bandit_floor must be in [0, 1/{len(self.variants)}]"
                )

    # --- reading ------------------------------------------------------------------------

    @property
    def control_name(self) -> str:
        """The control variant's name."""
        assert self.control is not None
        return self.control

    @property
    def variant_names(self) -> list[str]:
        """The variants' names, in definition order."""
        return [v.name for v in self.variants]

    @property
    def weights(self) -> dict[str, float]:
        """The configured weight of each variant, by name."""
        return {v.name: v.weight for v in self.variants}

    @property
    def routes_calls(self) -> bool:
        """Whether any variant sets a model or parameters (the guard can route it)."""
        return any(v.routes_calls for v in self.variants)

    def variant(self, name: str) -> Variant:
        """The variant called `name`; `ExperimentNotFoundError` if there is none."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ExperimentNotFoundError(
            f"experiment {self.name!r} has no variant {name!r}; it has {self.variant_names}"
        )

    def resolve(self, label: str) -> Variant | None:
        """The variant a call tag or template render names: by name, else by its template
        label or version (`v3`, `3`)."""
        for variant in self.variants:
            if variant.name == label:
                return variant
        for variant in self.variants:
            ref = variant.template_ref
            if ref is not None and (label == ref or f"v{label}" == ref):
                return variant
        return None

    def direction_of(self, metric: str) -> Direction:
        """Which way is better for `metric` (given in `directions`, else the default)."""
        if metric in self.directions:
            return self.directions[metric]
        return DEFAULT_DIRECTIONS.get(metric, Direction.HIGHER_IS_BETTER)

    # --- the stored form ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain JSON types; `from_dict` reads it back."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "variants":
                value = [v.to_dict() for v in value]
            elif item.name == "directions":
                value = {k: d.value for k, d in value.items()}
            elif isinstance(value, StrEnum):
                value = value.value
            data[item.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Experiment:
        """An experiment from a mapping (a YAML or JSON file, a stored row); unknown keys
        are an error, so a misspelt setting is never silently ignored."""
        if not isinstance(data, Mapping):
            raise ConfigurationError("an experiment definition must be a mapping")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"experiment: unknown key(s) {unknown}; allowed: {sorted(known)}"
            )
        if "name" not in data or "variants" not in data:
            raise ConfigurationError("an experiment definition needs `name` and `variants`")
        variants = data["variants"]
        if not isinstance(variants, Sequence) or isinstance(variants, str):
            raise ConfigurationError("experiment: `variants` must be a list")
        values = dict(data)
        values["variants"] = [
            v if isinstance(v, Variant) else Variant.from_dict(v) for v in variants
        ]
        return cls(**values)


def _checked_variants(name: str, variants: Sequence[Variant]) -> tuple[Variant, ...]:
    if isinstance(variants, str | bytes) or not isinstance(variants, Sequence):
        raise ConfigurationError(f"experiment {name!r}: variants must be a list of Variant")
    if len(variants) < 2 or not all(isinstance(v, Variant) for v in variants):
        raise ConfigurationError(
            f"experiment {name!r}: give at least two Variant objects (a control and a treatment)"
        )
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"experiment {name!r}: variant names repeat: {duplicates}")
    if sum(v.weight for v in variants) <= 0:
        raise ConfigurationError(f"experiment {name!r}: the variants' weights sum to zero")
    return tuple(v.bound_to(name) for v in variants)


def _checked_directions(directions: Mapping[str, Any]) -> Mapping[str, Direction]:
    if not isinstance(directions, Mapping):
        raise ConfigurationError("directions must map metric names to a Direction")
    return MappingProxyType(
        {check_metric(k): _enum(Direction, v, f"direction of {k}") for k, v in directions.items()}
    )


def _enum(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, kind):
        return value
    allowed = ", ".join(member.value for member in kind)
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} {value!r} is not one of {allowed}")
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"{what} {value!r} is not one of {allowed}") from None
