"""Rolling raw records up into per-bucket aggregates that survive retention.

Latencies go into the bins of a DDSketch mapping with 1% relative accuracy (the keys of
`ddsketch.mapping.LogarithmicMapping`), so a rollup's percentiles are as good as the raw
records' and rollups of different buckets or processes merge by adding bin counts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from ddsketch.mapping import LogarithmicMapping
from numpy.typing import NDArray

from ai.core.records import RequestRecord
from ml_ops.store.base import Rollup

RELATIVE_ACCURACY = 0.01
HOUR = 3600
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)


_MULTIPLIER = float(_MAPPING._multiplier)  # the mapping's own constants, read once:
_OFFSET = float(_MAPPING._offset)  # sketch_key runs for every record, so the mapping's
_MIN_VALUE = float(_MAPPING.min_possible)  # two Python calls per key are inlined here


def sketch_key(value: float) -> int:
    """The DDSketch bin of a positive value (values at or below 0 share the lowest bin);
    equal to `LogarithmicMapping(RELATIVE_ACCURACY).key(value)` (tested)."""
    return int(math.ceil(math.log(max(value, _MIN_VALUE), 2) * _MULTIPLIER) + _OFFSET)


_LOG2 = math.log(2.0)
_NEAR_BOUNDARY = 1e-9  # closer than this to a bin boundary: computed as `sketch_key` does


def sketch_keys(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """`sketch_key` of every value at once (finite values; the same keys exactly: values
    whose logarithm lies within rounding error of a bin boundary are redone one by one)."""
    scaled = np.log(np.maximum(values, _MIN_VALUE)) / _LOG2 * _MULTIPLIER
    keys = (np.ceil(scaled) + _OFFSET).astype(np.int64)
    for index in np.flatnonzero(np.abs(scaled - np.rint(scaled)) < _NEAR_BOUNDARY).tolist():
        keys[index] = sketch_key(float(values[index]))
    return keys


def bin_value(key: int) -> float:
    """A representative value of bin `key` (within the relative accuracy of its members)."""
    return float(_MAPPING.value(key))


def bucket_start(moment: datetime, bucket_seconds: int) -> datetime:
    """The start of the bucket `moment` falls in (UTC, aligned to the epoch)."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_seconds, tz=UTC)


def roll_up(records: Iterable[RequestRecord], bucket_seconds: int = HOUR) -> list[Rollup]:
    """One `Rollup` per bucket and group (model, provider, operation, user, agent)."""
    groups: dict[tuple[Any, ...], list[RequestRecord]] = defaultdict(list)
    for record in records:
        key = (
            bucket_start(record.timestamp, bucket_seconds),
            record.model or record.model_requested,
            record.provider,
            record.operation,
            record.user,
            record.agent,
        )
        groups[key].append(record)
    rollups = [_rollup(key, members, bucket_seconds) for key, members in groups.items()]
    return sorted(rollups, key=rollup_order)


def rollup_order(rollup: Rollup) -> tuple[str, ...]:
    """The order every store lists rollups in: by bucket start, then by group."""
    parts = (
        rollup.bucket_start.astimezone(UTC),
        rollup.model,
        rollup.provider,
        rollup.operation,
        rollup.user,
        rollup.agent,
    )
    return tuple("" if part is None else str(part) for part in parts)


def merge_rollups(first: Rollup, second: Rollup) -> Rollup:
    """Two rollups of the same bucket and group as one (counts and bins added)."""
    return Rollup(
        bucket_start=first.bucket_start,
        bucket_seconds=first.bucket_seconds,
        model=first.model,
        provider=first.provider,
        operation=first.operation,
        user=first.user,
        agent=first.agent,
        requests=first.requests + second.requests,
        failures=first.failures + second.failures,
        cached=first.cached + second.cached,
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
        cached_input_tokens=first.cached_input_tokens + second.cached_input_tokens,
        reasoning_tokens=first.reasoning_tokens + second.reasoning_tokens,
        cost=first.cost + second.cost,
        saved_cost=first.saved_cost + second.saved_cost,
        latency_ms_sum=first.latency_ms_sum + second.latency_ms_sum,
        errors=dict(Counter(first.errors) + Counter(second.errors)),
        latency_bins=dict(Counter(first.latency_bins) + Counter(second.latency_bins)),
        ttft_bins=dict(Counter(first.ttft_bins) + Counter(second.ttft_bins)),
    )


def _rollup(key: tuple[Any, ...], records: list[RequestRecord], bucket_seconds: int) -> Rollup:
    start, model, provider, operation, user, agent = key
    errors = Counter(str(r.error_type) for r in records if not r.success and r.error_type)
    latency = Counter(sketch_key(r.latency_ms) for r in records)
    ttft = Counter(
        sketch_key(r.time_to_first_token_ms)
        for r in records
        if r.time_to_first_token_ms is not None
    )
    usages = [r.usage for r in records if r.usage is not None]
    return Rollup(
        bucket_start=start,
        bucket_seconds=bucket_seconds,
        model=model,
        provider=provider,
        operation=operation,
        user=user,
        agent=agent,
        requests=len(records),
        failures=sum(not r.success for r in records),
        cached=sum(r.cached for r in records),
        input_tokens=sum(u.input_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        cached_input_tokens=sum(u.cached_input_tokens for u in usages),
        reasoning_tokens=sum(u.reasoning_tokens for u in usages),
        cost=sum(r.estimated_cost or 0.0 for r in records),
        saved_cost=sum(r.saved_cost or 0.0 for r in records),
        latency_ms_sum=sum(r.latency_ms for r in records),
        errors=dict(errors),
        latency_bins=dict(latency),
        ttft_bins=dict(ttft),
    )


def group_key(rollup: Rollup) -> tuple[Any, ...]:
    """What makes two rollups the same bucket and group (they merge into one)."""
    return (
        rollup.bucket_start,
        rollup.bucket_seconds,
        rollup.model,
        rollup.provider,
        rollup.operation,
        rollup.user,
        rollup.agent,
    )


def merge_into(total: dict[tuple[Any, ...], Rollup], rollups: Iterable[Rollup]) -> None:
    """Add `rollups` to `total` (keyed by `group_key`), merging those of a known group;
    lets a store roll a long range up chunk by chunk in bounded memory."""
    for rollup in rollups:
        key = group_key(rollup)
        existing = total.get(key)
        total[key] = rollup if existing is None else merge_rollups(existing, rollup)
