"""`POST /v1/embeddings`: request validation and the response object.

Wire details that clients depend on: `input` may be a string, a list of strings, a token
array or a list of token arrays (at most 2048 inputs, none empty); `dimensions` shortens
vectors of models that allow it (the text-embedding-3 family) and is refused by the
others; `encoding_format: "base64"` (the openai SDK's default) returns base64 of
little-endian float32, `"float"` a JSON array.

Which models exist, and their sizes, are the server's knowledge: `parse_embeddings_request`
asks a `resolve` callable, which returns an `EmbeddingModel` or raises the
`OpenAIRequestError` to answer (`model_not_found`, `not_an_embedding_model`).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai.providers.openai_serving.errors import (
    invalid,
    invalid_json,
    missing,
    missing_model,
    wrong_type,
)

MAX_INPUTS = 2048
"""The most inputs one request may embed."""

_INPUT_INVALID = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)

EmbeddingInput = str | tuple[int, ...]
"""One input: a text, or an array of token ids."""


class EmbeddingEncoding(StrEnum):
    """How vectors are sent: JSON numbers, or base64 of little-endian float32."""

    FLOAT = "float"
    BASE64 = "base64"


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    """What validation needs to know about an embedding model: its native vector size and
    whether it accepts `dimensions`."""

    dimensions: int
    adjustable: bool = False


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """A valid embeddings request. `dimensions` is the size to answer with (the requested
    one, else the model's); `requested_dimensions` is None when the client sent none."""

    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int
    encoding: EmbeddingEncoding = EmbeddingEncoding.FLOAT
    requested_dimensions: int | None = None


def parse_embeddings_request(
    body: object, resolve: Callable[[str], EmbeddingModel]
) -> EmbeddingsRequest:
    """Validate `body` (decoded JSON) as OpenAI does; raise its `OpenAIRequestError`.

    The order is OpenAI's: body, model, input, then the model itself (`resolve`), then
    `encoding_format` and `dimensions`.
    """
    if not isinstance(body, dict):
        raise invalid_json()
    model = body.get("model")
    if model is None:
        raise missing_model()
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)
    if "input" not in body:
        raise missing("input")
    inputs = parse_inputs(body["input"])
    spec = resolve(model)
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid(
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            "encoding_format",
            "invalid_value",
        )
    requested = body.get("dimensions")
    return EmbeddingsRequest(
        model=model,
        inputs=inputs,
        dimensions=_dimensions(spec, requested),
        encoding=EmbeddingEncoding(encoding),
        requested_dimensions=requested,
    )


def parse_inputs(value: object) -> tuple[EmbeddingInput, ...]:
    """The inputs of an `input` parameter; raise OpenAI's 400 for anything else."""
    if isinstance(value, str):
        items: Sequence[object] = [value]
    elif isinstance(value, list) and value and all(_is_token(v) for v in value):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise invalid(_INPUT_INVALID, "input")
    if not items:
        raise invalid(_INPUT_INVALID, "input")
    if len(items) > MAX_INPUTS:
        raise invalid(
            f"'$.input' is invalid: too many inputs. The max number of inputs is {MAX_INPUTS}.",
            "input",
        )
    inputs: list[EmbeddingInput] = []
    for item in items:
        if isinstance(item, str) and item:
            inputs.append(item)
        elif isinstance(item, list) and item and all(_is_token(t) for t in item):
            inputs.append(tuple(item))
        else:
            raise invalid(_INPUT_INVALID, "input")
    return tuple(inputs)


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dimensions(spec: EmbeddingModel, requested: object) -> int:
    if requested is None:
        return spec.dimensions
    if not spec.adjustable:
        raise invalid("This model does not support specifying dimensions.", "dimensions")
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise wrong_type("dimensions", "an integer", requested)
    if not 1 <= requested <= spec.dimensions:
        raise invalid(
            f"Invalid 'dimensions': expected a value between 1 and {spec.dimensions}, "
            f"got {requested}.",
            "dimensions",
        )
    return requested


def encode_vector(vector: Sequence[float], encoding: EmbeddingEncoding) -> list[float] | str:
    """A vector as the `embedding` field carries it in `encoding`."""
    if encoding is EmbeddingEncoding.BASE64:
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)


def embeddings_response(
    model: str,
    vectors: Sequence[Sequence[float]],
    *,
    prompt_tokens: int,
    encoding: EmbeddingEncoding = EmbeddingEncoding.FLOAT,
) -> dict[str, Any]:
    """The `{"object": "list", "data": [...], "model", "usage"}` answer, one embedding per
    input in input order."""
    data = [
        {"object": "embedding", "index": index, "embedding": encode_vector(vector, encoding)}
        for index, vector in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
