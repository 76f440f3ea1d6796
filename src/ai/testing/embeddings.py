"""OpenAI embeddings: deterministic vectors that still rank related texts together.

A vector is a normalised bag of hashed features: each word (lowercased, a plural `s`
dropped, stop words skipped) and each pair of neighbouring words adds +-1 to a few
dimensions chosen by its hash, and a small component from the hash of the whole text keeps
different texts apart. Texts sharing words therefore have a clearly higher cosine
similarity than unrelated ones, so retrieval demos return sensible neighbours, and the same
text always gets the same vector.

Wire details that clients depend on: `input` may be a string, a list of strings, a token
array or a list of token arrays (at most 2048 inputs); `dimensions` sets the size of
text-embedding-3 vectors (the fake hashes straight into that size, so a shortened vector is
not a prefix of the full one, unlike OpenAI's); `encoding_format: "base64"` (the
openai SDK's default) returns base64 of little-endian float32.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.testing.catalogue import (
    Api,
    ModelCatalogue,
    embedding_dimensions,
    supports_dimensions,
)
from ai.testing.openai_dialects import OpenAIDialect
from ai.testing.openai_validation import invalid, missing, wrong_type
from ai.testing.token_counting import count_tokens, decode_tokens
from ai.testing.wire import JsonReply

MAX_INPUTS = 2048
_WORD = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in",
        "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
        "will", "with", "what", "which", "who", "how",
    }
)  # fmt: skip
_SLOTS_PER_FEATURE = 4
_TEXT_WEIGHT = 0.25
_PAIR_WEIGHT = 0.5
_INPUT_INVALID = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """A validated embeddings request: texts, token counts, size and encoding."""

    model: str
    texts: tuple[str, ...]
    prompt_tokens: int
    dimensions: int
    base64: bool


def parse_embeddings(body: Any, catalogue: ModelCatalogue) -> EmbeddingRequest:
    """Validate as `POST /v1/embeddings` does; raise OpenAI's `ApiError`."""
    if not isinstance(body, dict):
        raise OpenAIDialect().invalid_json()
    model = body.get("model")
    if model is None:
        raise invalid("you must provide a model parameter")
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)
    if "input" not in body:
        raise missing("input")
    texts, tokens = _inputs(body["input"])
    if catalogue.serves(Api.OPENAI, model):
        raise invalid(f"The model `{model}` does not support embeddings.", "model")
    if not catalogue.serves(Api.EMBEDDINGS, model):
        raise OpenAIDialect().unknown_model(model)
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid(
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            "encoding_format",
            "invalid_value",
        )
    return EmbeddingRequest(
        model=model,
        texts=texts,
        prompt_tokens=tokens,
        dimensions=_dimensions(model, body.get("dimensions")),
        base64=encoding == "base64",
    )


def _inputs(value: object) -> tuple[tuple[str, ...], int]:
    """The input texts and their token count; token arrays are decoded."""
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
    texts: list[str] = []
    tokens = 0
    for item in items:
        if isinstance(item, str) and item:
            texts.append(item)
            tokens += count_tokens(item)
        elif isinstance(item, list) and item and all(_is_token(t) for t in item):
            texts.append(decode_tokens(item))
            tokens += len(item)
        else:
            raise invalid(_INPUT_INVALID, "input")
    return tuple(texts), tokens


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dimensions(model: str, requested: object) -> int:
    native = embedding_dimensions(model)
    if requested is None:
        return native
    if not supports_dimensions(model):
        raise invalid("This model does not support specifying dimensions.", "dimensions")
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise wrong_type("dimensions", "an integer", requested)
    if not 1 <= requested <= native:
        raise invalid(
            f"Invalid 'dimensions': expected a value between 1 and {native}, got {requested}.",
            "dimensions",
        )
    return requested


def _features(text: str) -> list[tuple[str, float]]:
    words = [_stem(w) for w in _WORD.findall(text.lower())]
    words = [w for w in words if w not in _STOP_WORDS]
    features = [(w, 1.0) for w in words]
    features.extend((f"{a} {b}", _PAIR_WEIGHT) for a, b in itertools.pairwise(words))
    features.append(("\x00text:" + text, _TEXT_WEIGHT if words else 1.0))
    return features


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector for `text` with `dimensions` components."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text):
        digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        for slot in range(_SLOTS_PER_FEATURE):
            chunk = int.from_bytes(digest[slot * 4 : slot * 4 + 4], "little")
            sign = 1.0 if chunk & 1 else -1.0
            vector[(chunk >> 1) % dimensions] += sign * weight
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def build_embeddings_reply(request: EmbeddingRequest) -> JsonReply:
    """The `{"object": "list", "data": [...]}` answer."""
    data = []
    for index, text in enumerate(request.texts):
        vector = embed(text, request.dimensions)
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            if request.base64
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    body = {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": request.prompt_tokens, "total_tokens": request.prompt_tokens},
    }
    return JsonReply(body, _headers())


def _headers() -> Mapping[str, str]:
    return {"openai-version": "2020-10-01", "openai-processing-ms": "1"}
