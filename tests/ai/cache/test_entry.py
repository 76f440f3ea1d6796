"""CachedResponse's wire form: lossless round trip, and damaged bytes fail one way only."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.cache.entry import MAX_CALL_COST, CachedResponse, CacheValueError
from ai.core.usage import Usage

# Lone surrogates cannot be encoded as UTF-8; they get their own test below.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)))
LARGE_TEXT = st.builds(lambda part, times: part * times, TEXT.filter(bool), st.integers(1, 3000))
FINITE = st.floats(allow_nan=False, allow_infinity=False)
COSTS = st.floats(min_value=0, max_value=MAX_CALL_COST)
JSON_SCALAR = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | FINITE | TEXT
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    count = st.integers(0, 10**9)
    cached, creation, uncached = draw(count), draw(count), draw(count)
    reasoning, visible = draw(count), draw(count)
    return Usage(
        input_tokens=cached + creation + uncached,
        output_tokens=reasoning + visible,
        cached_input_tokens=cached,
        cache_creation_tokens=creation,
        reasoning_tokens=reasoning,
        estimated=draw(st.booleans()),
    )


RESPONSES = st.builds(
    CachedResponse,
    text=TEXT | LARGE_TEXT,
    model=st.none() | TEXT,
    provider=TEXT,
    usage=st.none() | usages(),
    cost=st.none() | COSTS,
    finish_reason=st.none() | TEXT,
    tool_calls=st.lists(st.dictionaries(TEXT, JSON_VALUE, max_size=4), max_size=3),
    created_at=FINITE,
)


def _payload(response: CachedResponse) -> dict[str, Any]:
    data = response.to_bytes()
    raw = zlib.decompress(data[1:]) if data[:1] == b"z" else data[1:]
    payload: dict[str, Any] = json.loads(raw)
    return payload


def _well_typed(response: CachedResponse) -> bool:
    return (
        isinstance(response.text, str)
        and isinstance(response.provider, str)
        and isinstance(response.tool_calls, list)
        and (response.usage is None or isinstance(response.usage, Usage))
    )


@given(RESPONSES)
def test_round_trip_is_lossless(response: CachedResponse) -> None:
    assert CachedResponse.from_bytes(response.to_bytes()) == response


def test_large_values_are_compressed_and_small_ones_are_not() -> None:
    large = CachedResponse(text="the same sentence again. " * 400, model="m", provider="p")
    small = CachedResponse(text="short", model="m", provider="p")
    assert large.to_bytes()[:1] == b"z"
    assert len(large.to_bytes()) < len(large.text) // 10
    assert small.to_bytes()[:1] == b"j"
    assert CachedResponse.from_bytes(large.to_bytes()) == large


def test_unserialisable_tool_call_is_refused() -> None:
    response = CachedResponse(text="t", model="m", provider="p", tool_calls=[{"f": object()}])
    with pytest.raises(CacheValueError) as caught:
        response.to_bytes()
    assert caught.value.reason == "unserialisable"


def test_lone_surrogate_text_is_refused_not_mangled() -> None:
    response = CachedResponse(text="broken \ud800 text", model="m", provider="p")
    with pytest.raises(CacheValueError) as caught:
        response.to_bytes()
    assert caught.value.reason == "unserialisable"


def _decode_or_corrupt(data: bytes) -> None:
    """The only allowed outcomes: a well-typed response, or CacheValueError("corrupt")."""
    try:
        response = CachedResponse.from_bytes(data)
    except CacheValueError as exc:
        reason = exc.reason
    else:
        assert _well_typed(response)
        return
    assert reason == "corrupt"


@given(st.binary())
def test_arbitrary_bytes_are_corrupt_never_another_error(data: bytes) -> None:
    _decode_or_corrupt(data)


@given(st.binary(max_size=64))
def test_arbitrary_compressed_bytes_are_corrupt(data: bytes) -> None:
    _decode_or_corrupt(b"z" + zlib.compress(data))
    _decode_or_corrupt(b"z" + data)


@given(RESPONSES, st.data())
def test_damaged_values_are_corrupt_or_still_well_typed(
    response: CachedResponse, data: st.DataObject
) -> None:
    encoded = bytearray(response.to_bytes())
    if data.draw(st.booleans(), label="truncate"):
        del encoded[data.draw(st.integers(0, len(encoded) - 1)) :]
    else:
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] ^= data.draw(st.integers(1, 255))
    _decode_or_corrupt(bytes(encoded))


@given(st.dictionaries(st.sampled_from("vtmpucfka"), JSON_VALUE), st.booleans())
def test_well_formed_json_of_the_wrong_shape_is_corrupt(
    fields: dict[str, Any], current_version: bool
) -> None:
    if current_version:
        fields["v"] = 1
    _decode_or_corrupt(b"j" + json.dumps(fields).encode())


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("t", 5),
        ("p", None),
        ("m", 1),
        ("f", []),
        ("c", "1.0"),
        ("c", True),
        ("a", None),
        ("k", "calls"),
        ("k", [1]),
        ("u", [1.5, 0, 0, 0, 0, False]),
        ("u", [1, 0, 0, 0, 0]),
        ("u", {"input_tokens": 1}),
        ("u", [-1, 0, 0, 0, 0, False]),
        ("v", True),
        ("v", 2),
    ],
)
def test_each_mistyped_field_is_corrupt(field: str, bad: object) -> None:
    payload = _payload(
        CachedResponse(text="t", model="m", provider="p", usage=Usage(3, 2), cost=0.1)
    )
    payload[field] = bad
    with pytest.raises(CacheValueError) as caught:
        CachedResponse.from_bytes(b"j" + json.dumps(payload).encode())
    assert caught.value.reason == "corrupt"


@pytest.mark.parametrize(
    "data",
    [b"", b"j", b"z", b"jnull", b"j[]", b"j" + b"[" * 100_000, b"z" + zlib.compress(b"{" * 10)],
)
def test_known_damage_is_corrupt(data: bytes) -> None:
    with pytest.raises(CacheValueError) as caught:
        CachedResponse.from_bytes(data)
    assert caught.value.reason == "corrupt"


def _with_cost(cost: str) -> bytes:
    """A well-formed entry whose cost is `cost`, as written in the JSON text."""
    return (
        b'j{"v":1,"t":"x","m":null,"p":"openai","u":null,"c":%s,"f":null,"k":[],"a":0}'
        % cost.encode()
    )


@pytest.mark.parametrize(
    "data",
    [
        _with_cost("NaN"),
        _with_cost("Infinity"),
        _with_cost("-Infinity"),
        _with_cost("-5"),
        _with_cost("-0.000001"),
        _with_cost("1" + "0" * 400),  # an int no float can hold
        _with_cost("1e308"),  # finite, but no call costs that
        _with_cost("1000000.01"),
        b'j{"v":1,"t":"x","m":null,"p":"o","u":null,"c":null,"f":null,"k":[],"a":NaN}',
        b'j{"v":1,"t":"x","m":null,"p":"o","u":null,"c":null,"f":null,"k":[{"x":NaN}],"a":0}',
    ],
)
def test_non_finite_negative_or_absurd_numbers_are_corrupt(data: bytes) -> None:
    """A hit adds its cost to the saved-cost totals: one NaN would make them NaN for good,
    a negative one would report money lost as saved."""
    with pytest.raises(CacheValueError) as caught:
        CachedResponse.from_bytes(data)
    assert caught.value.reason == "corrupt"


def _is_amount(cost: float) -> bool:
    try:
        return math.isfinite(float(cost)) and 0 <= cost <= MAX_CALL_COST
    except OverflowError:  # an int no float can hold
        return False


@given(st.floats() | st.integers(-(10**400), 10**400))
def test_only_a_finite_cost_of_at_least_zero_is_served(cost: float) -> None:
    data = _with_cost(json.dumps(cost))
    if _is_amount(cost):
        assert CachedResponse.from_bytes(data).cost == cost
    else:
        with pytest.raises(CacheValueError) as caught:
            CachedResponse.from_bytes(data)
        assert caught.value.reason == "corrupt"


@pytest.mark.parametrize("cost", [math.nan, math.inf, -1.0, 1e308])
def test_a_cost_that_would_read_back_as_corrupt_is_never_written(cost: float) -> None:
    response = CachedResponse(text="t", model="m", provider="p", cost=cost)
    with pytest.raises(CacheValueError) as caught:
        response.to_bytes()
    assert caught.value.reason == "unserialisable"
