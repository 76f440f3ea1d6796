"""The row codec keeps everything a `RequestRecord` holds: property-tested with Hypothesis
over any record (time zones, unicode, missing parts, guard decisions), through the plain
row and through a spill line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ai.core.records import (
    CostSource,
    GuardAction,
    GuardDecision,
    Operation,
    RequestRecord,
)
from ai.core.usage import Usage
from ai.errors import ErrorType
from ml_ops.store.codec import (
    COLUMNS,
    alert_from_row,
    alert_row,
    from_row,
    from_spill_line,
    rollup_from_row,
    rollup_row,
    spill_line,
    to_row,
)
from ml_ops.store.rollup import roll_up
from tests.ml_ops.store.factories import make_alert, make_record, rich_record

text = st.text(max_size=30)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
zones = st.builds(
    timezone, st.integers(-23 * 60, 23 * 60).map(lambda m: timedelta(minutes=m))
) | st.just(UTC)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=zones
)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(st.integers(0, 10**12))
    output_tokens = draw(st.integers(0, 10**12))
    cached = draw(st.integers(0, input_tokens))
    creation = draw(st.integers(0, input_tokens - cached))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        cache_creation_tokens=creation,
        reasoning_tokens=draw(st.integers(0, output_tokens)),
        estimated=draw(st.booleans()),
    )


scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | finite | text
decisions = st.builds(
    GuardDecision,
    guard=text,
    action=st.sampled_from(GuardAction),
    changes=st.dictionaries(text, st.tuples(scalars, scalars), max_size=3),
    reason=st.none() | text,
)
records = st.builds(
    RequestRecord,
    request_id=text,
    timestamp=moments,
    provider=text,
    model_requested=text,
    model=st.none() | text,
    usage=st.none() | usages(),
    estimated_cost=st.none() | finite,
    latency_ms=finite,
    time_to_first_token_ms=st.none() | finite,
    attempts=st.integers(0, 100),
    success=st.booleans(),
    error_type=st.none() | st.sampled_from(ErrorType),
    error_message=st.none() | text,
    cached=st.booleans(),
    streamed=st.booleans(),
    fallback_used=st.booleans(),
    cost_source=st.none() | st.sampled_from(CostSource),
    saved_cost=st.none() | finite,
    user=st.none() | text,
    agent=st.none() | text,
    tags=st.dictionaries(text, text, max_size=4),
    operation=st.sampled_from(Operation),
    guard_decisions=st.lists(decisions, max_size=3).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(records)
def test_to_row_and_from_row_round_trip_any_record(record: RequestRecord) -> None:
    row = to_row(record)
    assert tuple(row) == COLUMNS
    assert from_row(row) == record


@settings(max_examples=200, deadline=None)
@given(records)
def test_a_spill_line_round_trips_any_record(record: RequestRecord) -> None:
    line = spill_line(record)
    assert "\n" not in line
    back = from_spill_line(line)
    assert back == record
    assert back.timestamp.utcoffset() == record.timestamp.utcoffset()


def test_rows_hold_no_prompt_or_answer_text() -> None:
    """The record carries none, so the row cannot: its fields are the whole story."""
    assert not {"prompt", "messages", "response", "content", "api_key"} & set(COLUMNS)


def test_rollup_and_alert_rows_round_trip() -> None:
    rollups = roll_up([rich_record(), *(make_record(n) for n in range(30))])
    assert [rollup_from_row(rollup_row(r)) for r in rollups] == rollups
    alert = make_alert(3, labels={"a": "ü"})
    assert alert_from_row(alert_row(alert)) == alert


@given(st.floats(min_value=0.0, max_value=1e12, allow_nan=False))
def test_sketch_keys_are_the_ddsketch_mappings_keys(value: float) -> None:
    from ddsketch.mapping import LogarithmicMapping

    from ml_ops.store.rollup import RELATIVE_ACCURACY, sketch_key

    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    assert sketch_key(value) == int(mapping.key(max(value, mapping.min_possible)))
