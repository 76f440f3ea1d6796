"""A summary from the event store's records instead of the tester's own totals.

Every call tagged with an experiment and variant lands in the event store
(`ml_ops.store`) with its success, latency and cost, in whichever process made it. Reading
those records back (`RecordQuery(tags={"experiment": name})`) rebuilds the per-variant
totals independently of any tester's buffer: a check of the counts, or the way to judge
an experiment whose processes were not all attached to a tester. Each record falls in
the weight period in force at its timestamp. Exposures are not records, so they read 0.
"""

from __future__ import annotations

from typing import Any

from ai.core.records import TagKey
from ml_ops.ab_testing.routing import period_at
from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.summary import summarise
from ml_ops.ab_testing.totals import VariantTotals, record_totals
from ml_ops.store.base import EventStore, RecordQuery


async def totals_from_records(
    state: ExperimentState, events: EventStore
) -> dict[tuple[str, int], VariantTotals]:
    """Totals by (variant, period) of the records tagged with `state`'s experiment."""
    query = RecordQuery(tags={TagKey.EXPERIMENT.value: state.name})
    totals: dict[tuple[str, int], VariantTotals] = {}
    for record in await events.query(query):
        variant = state.experiment.resolve(record.tags.get(TagKey.VARIANT.value, ""))
        delta = record_totals(state.experiment, record)
        if variant is None or delta is None:
            continue
        key = (variant.name, period_at(state, record.timestamp))
        totals.setdefault(key, VariantTotals()).merge(delta)
    return totals


async def summary_from_records(state: ExperimentState, events: EventStore) -> dict[str, Any]:
    """`summarise` over the records of `events` (nothing is written or acted on)."""
    return summarise(state, await totals_from_records(state, events))
