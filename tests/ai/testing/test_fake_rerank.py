"""The fake Cohere/Jina rerank endpoint: wire format, validation, auth and faults."""

from __future__ import annotations

import httpx
import pytest

from ai.testing import FakeProviderServer, Fault
from ai.testing.rerank import RERANK_MODELS, relevance

DOCS = ["the moon moves the tides", "redis keys expire", "expire a redis key with a ttl"]


def test_relevance_is_deterministic_and_in_range() -> None:
    assert relevance("redis key", DOCS[2]) == relevance("redis key", DOCS[2])
    assert relevance("redis key", DOCS[2]) > relevance("redis key", DOCS[0]) >= 0.0
    assert 0.0 <= relevance("x", "y") <= 1.0
    assert "rerank-v3.5" in RERANK_MODELS


def test_answer_shape(fake: FakeProviderServer, http: httpx.Client) -> None:
    auth = {"authorization": f"Bearer {fake.api_key}"}
    body = {"model": "rerank-v3.5", "query": "redis key", "documents": DOCS, "top_n": 2}
    answer = http.post("/v1/rerank", json=body, headers=auth)
    assert answer.status_code == 200
    data = answer.json()
    assert {r["index"] for r in data["results"]} == {1, 2}
    assert data["meta"]["billed_units"] == {"search_units": 1}
    assert "document" not in data["results"][0]
    objects = [{"text": d} for d in DOCS]
    with_docs = http.post(
        "/v1/rerank",
        json={**body, "documents": objects, "return_documents": True, "top_n": None},
        headers=auth,
    ).json()
    assert len(with_docs["results"]) == 3
    assert with_docs["results"][0]["document"] == {"text": DOCS[with_docs["results"][0]["index"]]}
    [recorded] = [r for r in fake.requests if r.model == "rerank-v3.5"][:1]
    assert recorded.api == "rerank"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"model": None}, 400, "model is required"),
        ({"model": "gpt-4o"}, 404, "not found"),
        ({"query": ""}, 400, "query"),
        ({"documents": []}, 400, "documents"),
        ({"documents": [1]}, 400, "each document"),
        ({"top_n": 0}, 400, "top_n"),
    ],
)
def test_validation(
    fake: FakeProviderServer,
    http: httpx.Client,
    change: dict[str, object],
    status: int,
    message: str,
) -> None:
    body = {"model": "rerank-v3.5", "query": "q", "documents": DOCS} | change
    answer = http.post("/v1/rerank", json=body, headers={"authorization": f"Bearer {fake.api_key}"})
    assert answer.status_code == status
    assert message in answer.json()["message"]


def test_auth_and_faults(fake: FakeProviderServer, http: httpx.Client) -> None:
    body = {"model": "rerank-v3.5", "query": "q", "documents": DOCS}
    assert http.post("/v1/rerank", json=body).status_code == 401
    wrong = http.post("/v1/rerank", json=body, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json() == {"message": "invalid api token"}
    auth = {"authorization": f"Bearer {fake.api_key}"}
    fake.faults.push(Fault.rate_limit(retry_after=3), api="rerank")
    limited = http.post("/v1/rerank", json=body, headers=auth)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    fake.faults.push(Fault.server_error(502), api="rerank")
    assert http.post("/v1/rerank", json=body, headers=auth).status_code == 502
    assert http.post("/v1/rerank", json=body, headers=auth).status_code == 200
