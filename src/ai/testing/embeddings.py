"""OpenAI embeddings: deterministic vectors that still rank related texts together.

A vector is a normalised bag of hashed features: each word (lowercased, a plural `s`
dropped, stop words skipped) and each pair of neighbouring words adds +-1 to a few
dimensions chosen by its hash, and a small component from the hash of the whole text keeps
different texts apart. Texts sharing words therefore have a clearly higher cosine
similarity than unrelated ones, so retrieval demos return sensible neighbours, and the same
text always gets the same vector.

Validation and the response object are product code shared with the gateway
(`ai.providers.openai_serving`); this module adds the fake's catalogue lookup, token counts
(token-array inputs are decoded to text) and vectors. `dimensions` sets the size of
text-embedding-3 vectors: the fake hashes straight into that size, so a shortened vector is
not a prefix of the full one, unlike OpenAI's.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai.providers.openai_serving import (
    EmbeddingEncoding,
    EmbeddingModel,
    EmbeddingsRequest,
    OpenAIRequestError,
    embeddings_response,
    model_not_found,
    not_an_embedding_model,
    parse_embeddings_request,
)
from ai.testing.catalogue import (
    Api,
    ModelCatalogue,
    embedding_dimensions,
    supports_dimensions,
)
from ai.testing.hostile import NO_CHANGE, AnswerChange, unreadable_usage
from ai.testing.openai_dialects import UNREADABLE_COUNT, USAGE_COUNT_KEYS, api_error
from ai.testing.token_counting import count_tokens, decode_tokens
from ai.testing.wire import JsonReply

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


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """A validated embeddings request: texts, token counts, size and encoding."""

    model: str
    texts: tuple[str, ...]
    prompt_tokens: int
    dimensions: int
    encoding: EmbeddingEncoding


def parse_embeddings(body: Any, catalogue: ModelCatalogue) -> EmbeddingRequest:
    """Validate as `POST /v1/embeddings` does; raise OpenAI's `ApiError`."""

    def resolve(model: str) -> EmbeddingModel:
        if catalogue.serves(Api.OPENAI, model):
            raise not_an_embedding_model(model)
        if not catalogue.serves(Api.EMBEDDINGS, model):
            raise model_not_found(model)
        return EmbeddingModel(embedding_dimensions(model), supports_dimensions(model))

    try:
        parsed = parse_embeddings_request(body, resolve)
    except OpenAIRequestError as error:
        raise api_error(error) from None
    texts, tokens = _texts(parsed)
    return EmbeddingRequest(
        model=parsed.model,
        texts=texts,
        prompt_tokens=tokens,
        dimensions=parsed.dimensions,
        encoding=parsed.encoding,
    )


def _texts(request: EmbeddingsRequest) -> tuple[tuple[str, ...], int]:
    """The input texts and their token count; token arrays are decoded."""
    texts: list[str] = []
    tokens = 0
    for item in request.inputs:
        if isinstance(item, str):
            texts.append(item)
            tokens += count_tokens(item)
        else:
            texts.append(decode_tokens(list(item)))
            tokens += len(item)
    return tuple(texts), tokens


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


def build_embeddings_reply(
    request: EmbeddingRequest, change: AnswerChange = NO_CHANGE
) -> JsonReply:
    """The `{"object": "list", "data": [...]}` answer (with `"many"` tokens for the
    `bad_usage` fault; no other `AnswerChange` applies to embeddings)."""
    vectors = [embed(text, request.dimensions) for text in request.texts]
    body = embeddings_response(
        request.model, vectors, prompt_tokens=request.prompt_tokens, encoding=request.encoding
    )
    if change.bad_usage:
        body["usage"] = unreadable_usage(body["usage"], USAGE_COUNT_KEYS, UNREADABLE_COUNT)
    return JsonReply(body, _headers())


def _headers() -> Mapping[str, str]:
    return {"openai-version": "2020-10-01", "openai-processing-ms": "1"}
