"""`POST /v1/embeddings`: validation in OpenAI's order, and answers the SDK decodes."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import CreateEmbeddingResponse

from ai.providers.openai_serving import (
    EmbeddingEncoding,
    EmbeddingModel,
    EmbeddingsRequest,
    OpenAIRequestError,
    embeddings_response,
    encode_vector,
    model_not_found,
    not_an_embedding_model,
    parse_embeddings_request,
)
from tests.ai.providers.openai_serving.sdk_answers import json_answer, sdk_client
from tests.ai.providers.openai_serving.strategies import JSON, assert_well_formed

MODELS = {
    "text-embedding-3-small": EmbeddingModel(1536, adjustable=True),
    "text-embedding-ada-002": EmbeddingModel(1536),
}


def resolve(model: str) -> EmbeddingModel:
    """A server's model lookup: chat models and unknown ids are refused."""
    if model.startswith("gpt-"):
        raise not_an_embedding_model(model)
    if model not in MODELS:
        raise model_not_found(model)
    return MODELS[model]


def refusal(body: object) -> OpenAIRequestError:
    with pytest.raises(OpenAIRequestError) as caught:
        parse_embeddings_request(body, resolve)
    return caught.value


def test_inputs_of_every_shape() -> None:
    small = "text-embedding-3-small"
    one = parse_embeddings_request({"model": small, "input": "hi"}, resolve)
    assert one == EmbeddingsRequest(model=small, inputs=("hi",), dimensions=1536)
    many = parse_embeddings_request({"model": small, "input": ["a", "b"]}, resolve)
    assert many.inputs == ("a", "b")
    tokens = parse_embeddings_request({"model": small, "input": [1, 2, 3]}, resolve)
    assert tokens.inputs == ((1, 2, 3),)
    arrays = parse_embeddings_request({"model": small, "input": [[1], [2, 3]]}, resolve)
    assert arrays.inputs == ((1,), (2, 3))


def test_dimensions_and_encoding() -> None:
    body = {
        "model": "text-embedding-3-small",
        "input": "hi",
        "dimensions": 8,
        "encoding_format": "base64",
    }
    request = parse_embeddings_request(body, resolve)
    assert (request.dimensions, request.requested_dimensions) == (8, 8)
    assert request.encoding is EmbeddingEncoding.BASE64


@pytest.mark.parametrize(
    ("body", "status", "param", "message"),
    [
        ([1], 400, None, "could not parse the JSON body"),
        ({"input": "x"}, 400, None, "you must provide a model parameter"),
        ({"model": 3, "input": "x"}, 400, "model", "expected a string"),
        ({"model": "text-embedding-3-small"}, 400, "input", "Missing required parameter"),
        ({"model": "text-embedding-3-small", "input": 3}, 400, "input", "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": []}, 400, "input", "is invalid"),
        ({"model": "text-embedding-3-small", "input": [""]}, 400, "input", "is invalid"),
        ({"model": "text-embedding-3-small", "input": [[]]}, 400, "input", "is invalid"),
        ({"model": "text-embedding-3-small", "input": [-1]}, 400, "input", "is invalid"),
        ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, 400, "input", "2048"),
        ({"model": "gpt-4o", "input": "x"}, 400, "model", "does not support embeddings"),
        ({"model": "nope", "input": "x"}, 404, None, "does not exist"),
        (
            {"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"},
            400,
            "encoding_format",
            "Supported values are: 'float' and 'base64'.",
        ),
        (
            {"model": "text-embedding-ada-002", "input": "x", "dimensions": 8},
            400,
            "dimensions",
            "does not support specifying dimensions",
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "dimensions": "8"},
            400,
            "dimensions",
            "expected an integer",
        ),
        (
            {"model": "text-embedding-3-small", "input": "x", "dimensions": 0},
            400,
            "dimensions",
            "between 1 and 1536",
        ),
    ],
)
def test_bad_bodies_get_openais_errors(
    body: object, status: int, param: str | None, message: str
) -> None:
    error = refusal(body)
    assert (error.status, error.param) == (status, param)
    assert message in error.message


def test_checks_run_in_openais_order() -> None:
    # A bad input is reported before the unknown model, the model before the encoding.
    assert refusal({"model": "nope", "input": 3}).param == "input"
    assert refusal({"model": "nope", "input": "x", "encoding_format": "x"}).status == 404


def test_the_float_answer_validates_as_create_embedding_response() -> None:
    vectors = [[0.5, -0.25, 0.125], [1.0, 0.0, -1.0]]
    body = embeddings_response("text-embedding-3-small", vectors, prompt_tokens=7)
    parsed = CreateEmbeddingResponse.model_validate(body)
    assert parsed.usage.prompt_tokens == parsed.usage.total_tokens == 7
    assert [item.index for item in parsed.data] == [0, 1]
    assert [item.embedding for item in parsed.data] == vectors


@pytest.mark.parametrize("encoding", list(EmbeddingEncoding))
def test_the_sdk_client_decodes_either_encoding(encoding: EmbeddingEncoding) -> None:
    # Unless asked for a format, the SDK asks for base64 and decodes it into floats itself.
    vectors = [[0.5, -0.25, 0.125], [1.0, 0.0, -1.0]]
    body = embeddings_response(
        "text-embedding-3-small", vectors, prompt_tokens=7, encoding=encoding
    )
    with sdk_client(json_answer(body)) as client:
        if encoding is EmbeddingEncoding.FLOAT:
            answer = client.embeddings.create(
                model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
            )
        else:
            answer = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert isinstance(answer, CreateEmbeddingResponse)
    assert [item.embedding for item in answer.data] == vectors  # exact in float32


def test_base64_is_little_endian_float32() -> None:
    vector = [0.1, -0.2, 0.3]
    encoded = encode_vector(vector, EmbeddingEncoding.BASE64)
    assert isinstance(encoded, str)
    assert struct.unpack("<3f", base64.b64decode(encoded)) == pytest.approx(vector, rel=1e-6)
    assert encode_vector(vector, EmbeddingEncoding.FLOAT) == vector


INPUT = st.one_of(
    st.text(max_size=5),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.integers(min_value=-1, max_value=9), max_size=3),
    st.lists(st.lists(st.integers(min_value=-1, max_value=9), max_size=3), max_size=3),
    JSON,
)
EMBEDDINGS_BODY = st.fixed_dictionaries(
    {
        "model": st.sampled_from([*MODELS, "gpt-4o", "nope"]) | JSON,
        "input": INPUT,
    },
    optional={
        "dimensions": st.integers(min_value=-1, max_value=2000) | JSON,
        "encoding_format": st.sampled_from(["float", "base64", "int8"]) | JSON,
    },
)


@settings(max_examples=300)
@given(st.one_of(EMBEDDINGS_BODY, JSON))
def test_any_json_parses_or_raises_the_typed_error(body: Any) -> None:
    body = json.loads(json.dumps(body))
    outcome: EmbeddingsRequest | OpenAIRequestError
    try:
        outcome = parse_embeddings_request(body, resolve)
    except OpenAIRequestError as error:
        outcome = error
    if isinstance(outcome, OpenAIRequestError):
        if outcome.status == 404:
            assert outcome.code == "model_not_found"
        else:
            assert_well_formed(outcome)
        return
    assert outcome.inputs
    assert 1 <= outcome.dimensions <= MODELS[outcome.model].dimensions
