"""Counting a batch of records at once: the counts `Slot.add` makes record by record,
computed column by column with numpy.

`MLMonitor` does not count a record the moment it arrives: its `WindowSet` appends the
records bound for one slot to a list (an append is all a record costs on the call path)
and counts them here when the list is read, full, or its slot closes. The result equals
adding the records one by one, in their order:

- a dimension admits keys in order of first appearance, so the bounded dimensions
  (`KeyLimits`) name the same keys and spill the same ones to `"__other__"`;
- outcomes and error labels of failed records are counted record by record (failures are
  few), so a group's bounded error breakdown keeps the same labels;
- sketch keys are exactly `sketch_key`'s (`ml_ops.store.rollup.sketch_keys`);
- float sums (cost, latency sums) are added per group and batch first, so they may differ
  from one-by-one sums in the last bits.

A batch shorter than `SCALAR_BELOW`, or one whose columns cannot be built (a latency that
is not a finite number, a field of the wrong type), is counted record by record; a record
that cannot be counted is then logged and skipped, so counting never fails a read.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ai.core.records import RequestRecord
from ai.core.usage import Usage
from ml_ops.monitoring.groups import (
    OTHER,
    OTHER_SERIES,
    UNKNOWN_ERROR,
    Contribution,
    GroupStats,
    KeyLimits,
    Slot,
    admit,
)
from ml_ops.store.rollup import sketch_keys

logger = logging.getLogger(__name__)

SCALAR_BELOW = 256
"""Batches shorter than this are counted record by record (numpy's fixed cost per call
outweighs its speed on a handful of records)."""

_SUCCESS = "success"
_NO_USAGE = Usage()
_provider = attrgetter("provider")
_model = attrgetter("model")
_operation = attrgetter("operation")
_agent = attrgetter("agent")
_user = attrgetter("user")
_success = attrgetter("success")
_cached = attrgetter("cached")
_usage = attrgetter("usage")
_cost = attrgetter("estimated_cost")
_saved = attrgetter("saved_cost")
_latency = attrgetter("latency_ms")
_ttft = attrgetter("time_to_first_token_ms")
_TOKENS = tuple(
    attrgetter(name)
    for name in (
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    )
)

Codes = NDArray[np.intp]
Bins = tuple[list[int], list[int]]  # keys, counts


def count_records(
    records: Sequence[RequestRecord], labels: Mapping[int, str], targets: Sequence[Slot]
) -> None:
    """Count `records` in every slot of `targets`, as `Slot.add` would one by one;
    `labels[i]` is record i's own error label (`track_request`'s), if it has one."""
    if not records or not targets:
        return
    columns: _Columns | None = None
    if len(records) >= SCALAR_BELOW:
        try:
            columns = _Columns(records, labels)
        except Exception:  # an odd record: the one-by-one path finds and logs it
            columns = None
    if columns is None:
        _count_one_by_one(records, labels, targets)
        return
    for slot in targets:
        columns.add_to(slot)


def _count_one_by_one(
    records: Sequence[RequestRecord], labels: Mapping[int, str], targets: Sequence[Slot]
) -> None:
    for index, record in enumerate(records):
        try:
            contribution = Contribution(record, labels.get(index))
        except Exception:
            logger.exception("record %r cannot be counted; skipped", record)
            continue
        for slot in targets:
            slot.add(contribution)


def _first_rows(values: list[Any]) -> tuple[Codes, Codes] | None:
    """Each value's code, the row where it first appears (so codes ascend in order of
    first appearance), and the distinct codes in order; None when all values are equal."""
    count = len(values)
    if values.count(values[0]) == count:
        return None
    seen: dict[Any, int] = {}
    codes = np.fromiter(map(seen.setdefault, values, itertools.count()), np.intp, count)
    return codes, np.fromiter(seen.values(), np.intp, len(seen))


def _grouping(values: list[Any]) -> tuple[Codes, Codes]:
    """`_first_rows` of `values`, all in row 0 when they are all equal."""
    found = _first_rows(values)
    return found if found is not None else (np.zeros(len(values), np.intp), np.zeros(1, np.intp))


def _floats(values: list[Any]) -> NDArray[np.float64]:
    """`values` as floats, None counting as 0 (as `record.estimated_cost or 0.0` does)."""
    missing = values.count(None)
    if missing == len(values):
        return np.zeros(len(values))
    if missing:
        values = [0.0 if value is None else value for value in values]
    return np.array(values, dtype=np.float64)


def _token_columns(usages: list[Usage | None]) -> list[NDArray[np.int64]]:
    count = len(usages)
    try:
        return [np.fromiter(map(field, usages), np.int64, count) for field in _TOKENS]
    except AttributeError:  # records without usage count no tokens
        known = [_NO_USAGE if usage is None else usage for usage in usages]
        return [np.fromiter(map(field, known), np.int64, count) for field in _TOKENS]


class _Columns:
    """A batch's fields as arrays, and its sums per key of every dimension."""

    __slots__ = ("agents", "series", "users")

    def __init__(self, records: Sequence[RequestRecord], labels: Mapping[int, str]) -> None:
        count = len(records)
        latency = np.array(list(map(_latency, records)), dtype=np.float64)
        ttft_values = list(map(_ttft, records))
        if ttft_values.count(None) == count:
            ttft_rows: list[int] = []
        else:
            ttft_rows = [i for i, value in enumerate(ttft_values) if value is not None]
        ttft = np.array([ttft_values[i] for i in ttft_rows], dtype=np.float64)
        if not (np.all(latency < np.inf) and np.all(ttft < np.inf)):
            raise ValueError("a latency is not a finite number")  # NaN compares False
        success = np.fromiter(map(_success, records), np.bool_, count)
        weights = np.array(
            [
                success,
                np.fromiter(map(_cached, records), np.bool_, count),
                *_token_columns(list(map(_usage, records))),
                _floats(list(map(_cost, records))),
                _floats(list(map(_saved, records))),
                latency,
            ],
            dtype=np.float64,
        )
        sketches = _Sketches(
            sketch_keys(latency), sketch_keys(ttft), ttft, np.array(ttft_rows, dtype=np.intp)
        )
        failures = [
            (i, records[i].outcome.value, labels.get(i) or _error_type(records[i]))
            for i in np.flatnonzero(~success).tolist()
        ]
        series_keys, series_codes, series_rows = _series_grouping(records)
        self.series = _Tally(series_keys, series_codes, series_rows, weights, sketches, failures)
        self.agents = _Tally.of(list(map(_agent, records)), weights, sketches, failures)
        self.users = _Tally.of(list(map(_user, records)), weights, sketches, failures)

    def add_to(self, slot: Slot) -> None:
        """Count the batch in `slot`."""
        limits = slot.limits
        self.series.add_to(slot.series, limits.series, OTHER_SERIES, limits)
        self.agents.add_to(slot.agents, limits.agents, OTHER, limits)
        self.users.add_to(slot.users, limits.users, OTHER, limits)


def _error_type(record: RequestRecord) -> str:
    return str(record.error_type) if record.error_type else UNKNOWN_ERROR


def _series_grouping(records: Sequence[RequestRecord]) -> tuple[list[Any], Codes, Codes]:
    """(provider, model, operation) keys in order of first appearance, each record's code
    and the keys' codes (see `_first_rows`)."""
    providers = list(map(_provider, records))
    models = list(map(_model, records))
    if None in models or "" in models:
        models = [record.model or record.model_requested for record in records]
    operations = list(map(_operation, records))
    parts = [found for found in map(_first_rows, (providers, models, operations)) if found]
    if not parts:
        codes, rows = np.zeros(len(records), np.intp), np.zeros(1, np.intp)
    elif len(parts) == 1:
        codes, rows = parts[0]
    else:
        count = len(records)
        joint = np.zeros(count, np.int64)
        for part_codes, _ in parts:
            joint = joint * count + part_codes
        _, first, inverse = np.unique(joint, return_index=True, return_inverse=True)
        codes, rows = first[inverse.ravel()], np.sort(first)
    keys = [(providers[r], models[r], operations[r].value) for r in rows.tolist()]
    return keys, codes, rows


class _Sketches:
    """The batch's sketch keys: latency for every record, time to first token for some."""

    __slots__ = ("latency_keys", "ttft", "ttft_keys", "ttft_rows")

    def __init__(
        self,
        latency_keys: NDArray[np.int64],
        ttft_keys: NDArray[np.int64],
        ttft: NDArray[np.float64],
        ttft_rows: NDArray[np.intp],
    ) -> None:
        self.latency_keys = latency_keys
        self.ttft_keys = ttft_keys
        self.ttft = ttft
        self.ttft_rows = ttft_rows


def _binned(codes: Codes, rows: Codes, keys: NDArray[np.int64]) -> list[Bins]:
    """Per group (code in `rows`), its sketch keys and how many values fell in each."""
    if not len(keys):
        return [([], []) for _ in range(len(rows))]
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    pairs, counts = np.unique(codes.astype(np.int64) * span + (keys - low), return_counts=True)
    owners = np.searchsorted(rows, pairs // span)
    bounds = np.searchsorted(owners, np.arange(len(rows) + 1)).tolist()
    bin_keys = (pairs % span + low).tolist()
    bin_counts = counts.tolist()
    return [
        (bin_keys[start:end], bin_counts[start:end]) for start, end in itertools.pairwise(bounds)
    ]


def _add_bins(bins: dict[int, int], found: Bins) -> None:
    keys, counts = found
    if not bins:
        bins.update(zip(keys, counts, strict=True))
        return
    get = bins.get
    for key, count in zip(keys, counts, strict=True):
        bins[key] = get(key, 0) + count


class _Tally:
    """One dimension's sums per key over a batch (a None key is not counted)."""

    __slots__ = ("failures", "keys", "latency_bins", "sums", "ttft_bins", "ttft_sums")

    @classmethod
    def of(
        cls,
        values: list[Any],
        weights: NDArray[np.float64],
        sketches: _Sketches,
        failures: list[tuple[int, str, str]],
    ) -> _Tally:
        """The tally of a dimension whose key per record is `values`."""
        codes, rows = _grouping(values)
        return cls([values[r] for r in rows.tolist()], codes, rows, weights, sketches, failures)

    def __init__(
        self,
        keys: list[Any],
        codes: Codes,
        rows: Codes,
        weights: NDArray[np.float64],
        sketches: _Sketches,
        failures: list[tuple[int, str, str]],
    ) -> None:
        count = len(codes)
        self.keys = keys
        if len(keys) == 1:
            sums = weights.sum(axis=1, keepdims=True)
            requests = [count]
        else:
            sums = np.array([np.bincount(codes, column, count)[rows] for column in weights])
            requests = np.bincount(codes, minlength=count)[rows].tolist()
        self.sums: list[list[Any]] = [
            requests,
            *sums[:7].round().astype(np.int64).tolist(),
            *sums[7:].tolist(),
        ]
        self.latency_bins = _binned(codes, rows, sketches.latency_keys)
        if len(sketches.ttft_rows):
            ttft_codes = codes[sketches.ttft_rows]
            self.ttft_sums = [
                np.bincount(ttft_codes, minlength=count)[rows].tolist(),
                np.bincount(ttft_codes, sketches.ttft, count)[rows].tolist(),
            ]
            self.ttft_bins = _binned(ttft_codes, rows, sketches.ttft_keys)
        else:  # no streamed call in the batch
            self.ttft_sums = [[0] * len(keys)] * 2
            self.ttft_bins = [([], [])] * len(keys)
        position = dict(zip(rows.tolist(), range(len(keys)), strict=True))
        code_list = codes.tolist()
        self.failures = [
            (position[code_list[row]], outcome, label) for row, outcome, label in failures
        ]

    def add_to(
        self, table: dict[Any, GroupStats], limit: int, spill: Any, limits: KeyLimits
    ) -> None:
        """Add the sums to the groups of `table` (keys admitted in order of appearance)."""
        groups = [
            None if key is None else table.get(key) or admit(table, key, limit, spill)
            for key in self.keys
        ]
        rows = zip(groups, *self.sums, *self.ttft_sums, self.latency_bins, self.ttft_bins,
                   strict=True)  # fmt: skip
        for (group, requests, successes, cached, input_tokens, output_tokens, cached_input,
             cache_creation, reasoning, cost, saved, latency_total, ttft_count, ttft_total,
             latency_bins, ttft_bins) in rows:  # fmt: skip
            if group is None:
                continue
            group.requests += requests
            if successes:
                group.outcomes[_SUCCESS] = group.outcomes.get(_SUCCESS, 0) + successes
            group.cached += cached
            group.input_tokens += input_tokens
            group.output_tokens += output_tokens
            group.cached_input_tokens += cached_input
            group.cache_creation_tokens += cache_creation
            group.reasoning_tokens += reasoning
            group.cost += cost
            group.saved_cost += saved
            group.latency.count += requests
            group.latency.total += latency_total
            _add_bins(group.latency.bins, latency_bins)
            if ttft_count:
                group.ttft.count += ttft_count
                group.ttft.total += ttft_total
                _add_bins(group.ttft.bins, ttft_bins)
        for code, outcome, label in self.failures:
            failed = groups[code]
            if failed is not None:
                failed.outcomes[outcome] = failed.outcomes.get(outcome, 0) + 1
                failed.count_error(label, limits)
