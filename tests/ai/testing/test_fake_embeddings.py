"""Embedding vectors: deterministic, unit length, and similar for texts that share words."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import pytest

from ai.testing import FakeProviderServer
from ai.testing.embeddings import embed


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_deterministic_and_normalised() -> None:
    first = embed("The quick brown fox", 1536)
    assert first == embed("The quick brown fox", 1536)
    assert math.fsum(v * v for v in first) == pytest.approx(1.0)
    assert first != embed("The quick brown fox!", 1536)


def test_related_texts_rank_above_unrelated() -> None:
    query = embed("How do I reset my password?", 1536)
    related = embed("Password reset instructions for your account", 1536)
    unrelated = embed("Bananas are rich in potassium", 1536)
    assert cosine(query, related) > 0.3
    assert cosine(query, related) > cosine(query, unrelated) + 0.2
    assert cosine(embed("cats", 1536), embed("cat", 1536)) > 0.5


def test_text_without_words_still_gets_a_vector() -> None:
    vector = embed("?!", 256)
    assert math.fsum(v * v for v in vector) == pytest.approx(1.0)


def test_wire_format_float_and_base64(fake: FakeProviderServer, http: httpx.Client) -> None:
    auth = {"authorization": f"Bearer {fake.api_key}"}
    body = {"model": "text-embedding-3-large", "input": ["alpha", [15339, 1917]]}
    floats = http.post("/v1/embeddings", json=body, headers=auth).json()
    packed = http.post(
        "/v1/embeddings", json={**body, "encoding_format": "base64"}, headers=auth
    ).json()

    assert floats["object"] == "list"
    assert floats["model"] == "text-embedding-3-large"
    assert [d["object"] for d in floats["data"]] == ["embedding", "embedding"]
    vector = floats["data"][0]["embedding"]
    assert len(vector) == 3072
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(vector, abs=1e-6)
    # the token array [15339, 1917] is "hello world": 2 tokens; "alpha" is 1
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert floats["data"][1]["embedding"] == pytest.approx(embed("hello world", 3072))


def test_max_batch_is_accepted(fake: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        "/v1/embeddings",
        json={"model": "text-embedding-3-small", "input": ["x"] * 2048, "dimensions": 8},
        headers={"authorization": f"Bearer {fake.api_key}"},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2048
