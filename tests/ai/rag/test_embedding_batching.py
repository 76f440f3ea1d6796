"""The request planner and the answer parser of the OpenAI embeddings backend."""

from __future__ import annotations

import base64
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.tokens import encoding_for_model
from ai.errors import ConfigurationError
from ai.providers.base import MalformedResponse
from ai.rag.embedding_backends.batching import plan_batches
from ai.rag.embedding_backends.openai_api import parse_embeddings_response, truncate_to_tokens


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[int], int, int]:
    max_inputs = draw(st.integers(1, 10))
    max_tokens = draw(st.integers(1, 100))
    counts = draw(st.lists(st.integers(0, max_tokens), max_size=60))
    return counts, max_inputs, max_tokens


@settings(deadline=None)
@given(workloads())
def test_every_input_lands_in_exactly_one_batch_in_order_within_limits(
    workload: tuple[list[int], int, int],
) -> None:
    counts, max_inputs, max_tokens = workload
    batches = plan_batches(counts, max_inputs, max_tokens)
    assert [i for batch in batches for i in batch] == list(range(len(counts)))
    for batch in batches:
        assert 1 <= len(batch) <= max_inputs
        assert sum(counts[i] for i in batch) <= max_tokens
    for first, second in itertools.pairwise(batches):
        # Greedy: the next batch's first input did not fit into the previous batch.
        too_many = len(first) == max_inputs
        too_large = sum(counts[i] for i in first) + counts[second.start] > max_tokens
        assert too_many or too_large


def test_an_input_over_the_request_budget_cannot_be_planned() -> None:
    with pytest.raises(ConfigurationError, match="input 1 has 11 tokens"):
        plan_batches([1, 11], max_inputs=5, max_tokens=10)
    with pytest.raises(ConfigurationError):
        plan_batches([1], max_inputs=0, max_tokens=10)


def test_the_openai_limits_split_2049_inputs_in_two() -> None:
    assert plan_batches([1] * 2049, 2048, 300_000) == [range(0, 2048), range(2048, 2049)]


def test_base64_and_float_answers_parse_to_the_same_matrix() -> None:
    vectors = np.array([[0.25, -1.5, 3.0], [1.0, 2.0, -0.125]], dtype=np.float32)
    as_base64 = [
        {"index": i, "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()}
        for i, v in enumerate(vectors)
    ]
    as_floats = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
    shuffled = {"data": as_base64[::-1]}
    np.testing.assert_array_equal(parse_embeddings_response(shuffled, 2, 3), vectors)
    np.testing.assert_array_equal(parse_embeddings_response({"data": as_floats}, 2, None), vectors)


def test_a_repeated_index_is_malformed() -> None:
    data = {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}
    with pytest.raises(MalformedResponse, match="repeated index"):
        parse_embeddings_response(data, 2, None)


@settings(deadline=None)  # the first example loads the tokenizer
@given(st.text(min_size=1, max_size=300), st.integers(1, 40))
def test_truncation_keeps_a_prefix_within_the_limit(text: str, limit: int) -> None:
    encoding = encoding_for_model("text-embedding-3-small")
    prefix, count = truncate_to_tokens(encoding, text, limit)
    assert text.startswith(prefix)
    assert count == encoding.count(prefix) <= limit
    if encoding.count(text) <= limit:
        assert prefix == text
