"""Aggregates of requests: one `GroupStats` per group, grouped per time slot in a `Slot`.

A slot keeps three dimensions, each a dict from a key to its `GroupStats`:

- `series`: `(provider, model, operation)`, the joint key Prometheus labels need; the
  per-model, per-provider and overall views are sums over it, computed on read;
- `agents` and `users`: records without an agent (user) are not kept there.

Every dimension is bounded (`KeyLimits`): a slot admits new keys until the dimension holds
its limit, then counts newcomers under `OTHER`; when slots are merged (a closing slot into a
coarser one, or another process's snapshot) the keys with the most requests are kept and the
rest folded into `OTHER`. Totals therefore stay exact; only the attribution of the long tail
to named keys is approximate, and only once a limit is reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai.core.records import Outcome, RequestRecord
from ai.errors import ConfigurationError, ErrorType
from ml_ops.monitoring.sketch import LatencySketch
from ml_ops.store.base import Rollup
from ml_ops.store.rollup import sketch_key

OTHER = "__other__"
"""The key that the long tail of a bounded dimension is counted under."""

SeriesKey = tuple[str, str, str]
"""(provider, model, operation)."""

OTHER_SERIES: SeriesKey = (OTHER, OTHER, OTHER)
UNKNOWN_ERROR = "unknown"  # a failure that carries no error type
_SUCCESS = Outcome.SUCCESS.value


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """How many distinct keys each dimension keeps per slot before counting the rest
    under `"__other__"`; `error_types` bounds the error breakdown of each group."""

    series: int = 200
    agents: int = 100
    users: int = 100
    error_types: int = 32

    def __post_init__(self) -> None:
        for name in ("series", "agents", "users", "error_types"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"KeyLimits.{name} must be at least 1")


class Contribution:
    """What one record adds to a group, computed once per record (sketch keys included)."""

    __slots__ = (
        "agent", "cache_creation_tokens", "cached", "cached_input_tokens", "cost",
        "error_label", "input_tokens", "latency_key", "latency_ms", "outcome",
        "output_tokens", "reasoning_tokens", "saved_cost", "series", "ttft_key", "ttft_ms",
        "user",
    )  # fmt: skip

    def __init__(self, record: RequestRecord, error_label: str | None = None) -> None:
        self.series: SeriesKey = (
            record.provider,
            record.model or record.model_requested,
            record.operation.value,
        )
        self.agent = record.agent
        self.user = record.user
        self.outcome = _SUCCESS if record.success else record.outcome.value
        self.cached = record.cached
        usage = record.usage
        self.input_tokens = usage.input_tokens if usage else 0
        self.output_tokens = usage.output_tokens if usage else 0
        self.cached_input_tokens = usage.cached_input_tokens if usage else 0
        self.cache_creation_tokens = usage.cache_creation_tokens if usage else 0
        self.reasoning_tokens = usage.reasoning_tokens if usage else 0
        self.cost = record.estimated_cost or 0.0
        self.saved_cost = record.saved_cost or 0.0
        self.latency_ms = record.latency_ms
        self.latency_key = sketch_key(record.latency_ms)
        self.ttft_ms = record.time_to_first_token_ms
        self.ttft_key = None if self.ttft_ms is None else sketch_key(self.ttft_ms)
        if record.success:
            self.error_label: str | None = None
        else:
            self.error_label = error_label or (
                str(record.error_type) if record.error_type else UNKNOWN_ERROR
            )


_COUNTS = (
    "requests", "cached", "input_tokens", "output_tokens", "cached_input_tokens",
    "cache_creation_tokens", "reasoning_tokens",
)  # fmt: skip


_SCALARS = (*_COUNTS, "cost", "saved_cost")


class GroupStats:
    """Sums, outcome counts and latency sketches of the requests of one group."""

    __slots__ = (
        "cache_creation_tokens", "cached", "cached_input_tokens", "cost", "error_types",
        "input_tokens", "latency", "outcomes", "output_tokens", "reasoning_tokens",
        "requests", "saved_cost", "ttft",
    )  # fmt: skip

    def __init__(self) -> None:
        self.requests = 0
        self.outcomes: dict[str, int] = {}
        self.cached = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_input_tokens = 0
        self.cache_creation_tokens = 0
        self.reasoning_tokens = 0
        self.cost = 0.0
        self.saved_cost = 0.0
        self.latency = LatencySketch()
        self.ttft = LatencySketch()
        self.error_types: dict[str, int] = {}

    def add(self, c: Contribution, limits: KeyLimits) -> None:
        """Count one record."""
        self.requests += 1
        self.outcomes[c.outcome] = self.outcomes.get(c.outcome, 0) + 1
        self.cached += c.cached
        self.input_tokens += c.input_tokens
        self.output_tokens += c.output_tokens
        self.cached_input_tokens += c.cached_input_tokens
        self.cache_creation_tokens += c.cache_creation_tokens
        self.reasoning_tokens += c.reasoning_tokens
        self.cost += c.cost
        self.saved_cost += c.saved_cost
        latency = self.latency  # LatencySketch.add_key, inlined: this runs per record
        bins = latency.bins
        bins[c.latency_key] = bins.get(c.latency_key, 0) + 1
        latency.count += 1
        latency.total += c.latency_ms
        if c.ttft_key is not None:
            self.ttft.add_key(c.ttft_key, c.ttft_ms or 0.0)
        if c.error_label is not None:
            self.count_error(c.error_label, limits)

    def count_error(self, label: str, limits: KeyLimits) -> None:
        """Count one failure labelled `label` (under `OTHER` once the labels are full)."""
        errors = self.error_types
        if label not in errors and len(errors) >= limits.error_types:
            label = OTHER
        errors[label] = errors.get(label, 0) + 1

    def merge(self, other: GroupStats, limits: KeyLimits) -> None:
        """Add `other`'s requests to this group."""
        self.requests += other.requests
        for name, count in other.outcomes.items():
            self.outcomes[name] = self.outcomes.get(name, 0) + count
        self.cached += other.cached
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_creation_tokens += other.cache_creation_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost += other.cost
        self.saved_cost += other.saved_cost
        self.latency.merge(other.latency)
        self.ttft.merge(other.ttft)
        for label, count in other.error_types.items():
            self.error_types[label] = self.error_types.get(label, 0) + count
        if len(self.error_types) > limits.error_types:
            _fold_counts(self.error_types, limits.error_types)

    def copy(self) -> GroupStats:
        """An independent group with the same counts."""
        twin = GroupStats.__new__(GroupStats)
        for name in _SCALARS:
            setattr(twin, name, getattr(self, name))
        twin.outcomes = dict(self.outcomes)
        twin.error_types = dict(self.error_types)
        twin.latency = self.latency.copy()
        twin.ttft = self.ttft.copy()
        return twin

    @property
    def successes(self) -> int:
        return self.outcomes.get(Outcome.SUCCESS.value, 0)

    @property
    def failures(self) -> int:
        """Requests that did not succeed: failed, cancelled or refused."""
        return self.requests - self.successes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of every count and both sketches."""
        return {
            "requests": self.requests, "outcomes": dict(self.outcomes), "cached": self.cached,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "reasoning_tokens": self.reasoning_tokens, "cost": self.cost,
            "saved_cost": self.saved_cost, "latency": self.latency.to_dict(),
            "ttft": self.ttft.to_dict(), "error_types": dict(self.error_types),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupStats:
        """Rebuild a group written by `to_dict`."""
        group = cls()
        for name in _COUNTS:
            setattr(group, name, int(data[name]))
        group.cost = float(data["cost"])
        group.saved_cost = float(data["saved_cost"])
        group.outcomes = {str(k): int(v) for k, v in data["outcomes"].items()}
        group.error_types = {str(k): int(v) for k, v in data["error_types"].items()}
        group.latency = LatencySketch.from_dict(data["latency"])
        group.ttft = LatencySketch.from_dict(data["ttft"])
        return group

    @classmethod
    def from_rollup(cls, rollup: Rollup) -> GroupStats:
        """The group a store rollup describes (outcomes inferred from its error types)."""
        group = cls()
        group.requests = rollup.requests
        outcomes = {Outcome.SUCCESS.value: rollup.requests - rollup.failures}
        for label, count in rollup.errors.items():
            outcome = _outcome_of_error(label)
            outcomes[outcome] = outcomes.get(outcome, 0) + count
        unlabelled = rollup.failures - sum(rollup.errors.values())
        if unlabelled > 0:
            outcomes[Outcome.ERROR.value] = outcomes.get(Outcome.ERROR.value, 0) + unlabelled
        group.outcomes = {k: v for k, v in outcomes.items() if v}
        group.cached = rollup.cached
        group.input_tokens = rollup.input_tokens
        group.output_tokens = rollup.output_tokens
        group.cached_input_tokens = rollup.cached_input_tokens
        group.reasoning_tokens = rollup.reasoning_tokens
        group.cost = rollup.cost
        group.saved_cost = rollup.saved_cost
        group.latency = LatencySketch.from_bins(rollup.latency_bins, rollup.latency_ms_sum)
        group.ttft = LatencySketch.from_bins(rollup.ttft_bins)
        group.error_types = dict(rollup.errors)
        return group


def _outcome_of_error(label: str) -> str:
    if label == ErrorType.CANCELLED.value:
        return Outcome.CANCELLED.value
    if label == ErrorType.REFUSED.value:
        return Outcome.REFUSED.value
    return Outcome.ERROR.value


def _fold_counts(table: dict[str, int], keep: int) -> None:
    """Keep the `keep` largest counts of `table` and add the rest up under `OTHER`."""
    named = sorted((key for key in table if key != OTHER), key=lambda key: (-table[key], key))
    for key in named[keep:]:
        table[OTHER] = table.get(OTHER, 0) + table.pop(key)


class Slot:
    """The groups of one time slot (or of all time), bounded per dimension."""

    __slots__ = ("agents", "limits", "series", "start", "users")

    def __init__(self, start: int, limits: KeyLimits) -> None:
        self.start = start
        self.limits = limits
        self.series: dict[SeriesKey, GroupStats] = {}
        self.agents: dict[str, GroupStats] = {}
        self.users: dict[str, GroupStats] = {}

    def add(self, c: Contribution) -> None:
        """Count one record in each dimension it has a key for."""
        limits = self.limits
        group = self.series.get(c.series) or admit(
            self.series, c.series, limits.series, OTHER_SERIES
        )
        group.add(c, limits)
        if c.agent is not None:
            group = self.agents.get(c.agent) or admit(self.agents, c.agent, limits.agents, OTHER)
            group.add(c, limits)
        if c.user is not None:
            group = self.users.get(c.user) or admit(self.users, c.user, limits.users, OTHER)
            group.add(c, limits)

    def merge(self, other: Slot) -> None:
        """Add every group of `other`, then trim each dimension to its limit."""
        limits = self.limits
        _merge_table(self.series, other.series, limits.series, OTHER_SERIES, limits)
        _merge_table(self.agents, other.agents, limits.agents, OTHER, limits)
        _merge_table(self.users, other.users, limits.users, OTHER, limits)

    def group_count(self) -> int:
        """How many groups this slot holds (for footprint checks)."""
        return len(self.series) + len(self.agents) + len(self.users)

    def bin_count(self) -> int:
        """How many sketch bins this slot's groups hold in all."""
        groups = [*self.series.values(), *self.agents.values(), *self.users.values()]
        return sum(len(g.latency.bins) + len(g.ttft.bins) for g in groups)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; series keys become `[provider, model, operation, group]`."""
        return {
            "start": self.start,
            "series": [[*key, group.to_dict()] for key, group in self.series.items()],
            "agents": {key: group.to_dict() for key, group in self.agents.items()},
            "users": {key: group.to_dict() for key, group in self.users.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], limits: KeyLimits) -> Slot:
        """Rebuild a slot written by `to_dict`."""
        slot = cls(int(data["start"]), limits)
        for provider, model, operation, group in data["series"]:
            slot.series[(str(provider), str(model), str(operation))] = GroupStats.from_dict(group)
        slot.agents = {str(k): GroupStats.from_dict(v) for k, v in data["agents"].items()}
        slot.users = {str(k): GroupStats.from_dict(v) for k, v in data["users"].items()}
        return slot


def _merge_table(
    mine: dict[Any, GroupStats],
    theirs: dict[Any, GroupStats],
    keep: int,
    spill: Any,
    limits: KeyLimits,
) -> None:
    """Add `theirs` into `mine`, keeping the `keep` keys with the most requests in all
    (those already in `mine` win ties) and counting every other key's under `spill`."""
    kept = (set(mine) | set(theirs)) - {spill}
    if len(kept) > keep:
        weight = {key: _weight(mine, key) + _weight(theirs, key) for key in kept}
        # Heaviest first; on a tie the key already here stays, so a stream of one-off
        # keys (a million users) goes to `spill` without churning the named ones.
        ranked = sorted(kept, key=lambda key: (-weight[key], key not in mine, str(key)))
        kept = set(ranked[:keep])
        for key in [key for key in mine if key != spill and key not in kept]:
            evicted = mine.pop(key)
            if spill in mine:
                mine[spill].merge(evicted, limits)
            else:
                mine[spill] = evicted
    for key, group in theirs.items():
        _into(mine, key if key in kept else spill, group, limits)


def _weight(table: dict[Any, GroupStats], key: Any) -> int:
    group = table.get(key)
    return group.requests if group is not None else 0


def _into(table: dict[Any, GroupStats], key: Any, group: GroupStats, limits: KeyLimits) -> None:
    target = table.get(key)
    if target is None:
        table[key] = group.copy()
    else:
        target.merge(group, limits)


def admit(table: dict[Any, GroupStats], key: Any, limit: int, spill: Any) -> GroupStats:
    """The group of `key` in `table`, created while the table holds fewer than `limit`
    keys; once it is full, the group of `spill` (created if need be)."""
    group = table.get(key)
    if group is None:
        if len(table) >= limit and key != spill:
            key = spill
            group = table.get(key)
        if group is None:
            group = table[key] = GroupStats()
    return group


def rollup_slot(rollup: Rollup, limits: KeyLimits) -> Slot:
    """A slot holding one store rollup under its series, agent and user."""
    slot = Slot(int(rollup.bucket_start.timestamp()), limits)
    model = rollup.model or "unknown"
    slot.series[(rollup.provider, model, str(rollup.operation))] = GroupStats.from_rollup(rollup)
    if rollup.agent is not None:
        slot.agents[rollup.agent] = GroupStats.from_rollup(rollup)
    if rollup.user is not None:
        slot.users[rollup.user] = GroupStats.from_rollup(rollup)
    return slot
