"""EmbeddingService over the OpenAI embeddings API, against the loopback fake through sockets."""

from __future__ import annotations

import asyncio
import json
import warnings

import httpx
import numpy as np
import pytest

from ai.accounting.pricing import PricingTable
from ai.cache.semantic import SemanticIndex
from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthError,
    InvalidResponseError,
    RateLimitError,
)
from ai.rag.embeddings import EmbeddingService
from ai.testing import FakeProviderServer, Fault
from ai.testing.embeddings import embed as fake_vector
from tests.ai.provider_configs import TEST_KEY

NO_JITTER = RetryPolicy(max_retries=3, backoff=ExponentialBackoff(jitter=0.0))


def service(
    fake: FakeProviderServer, clock: FakeClock | None = None, **options: object
) -> EmbeddingService:
    settings: dict[str, object] = {
        "api_key": TEST_KEY,
        "base_url": fake.openai_base_url,
        "retry": NO_JITTER,
        "clock": clock,
    }
    settings.update(options)
    return EmbeddingService(**settings)  # type: ignore[arg-type]


def embedding_requests(fake: FakeProviderServer) -> list[dict[str, object]]:
    return [r.body for r in fake.requests if r.path.endswith("/embeddings")]


async def test_quick_start_construction_with_api_key_and_base_url(fake: FakeProviderServer) -> None:
    async with EmbeddingService(api_key=TEST_KEY, base_url=fake.openai_base_url) as embeddings:
        vectors = await embeddings.embed(["Python is a programming language"])
    assert vectors.shape == (1, 1536) and vectors.dtype == np.float32
    assert embeddings.dimension == 1536
    assert embeddings.model_id == "openai:text-embedding-3-small:1536"
    [body] = embedding_requests(fake)
    assert body["model"] == "text-embedding-3-small"
    assert body["encoding_format"] == "base64"
    assert fake.requests[0].headers["authorization"].startswith("Bearer ")


async def test_base_url_and_key_come_from_the_environment(fake: FakeProviderServer) -> None:
    environ = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": fake.openai_base_url}
    async with EmbeddingService(environ=environ) as embeddings:
        await embeddings.embed_query("hello")
    assert len(embedding_requests(fake)) == 1


def test_a_missing_key_names_the_environment_variable() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        EmbeddingService(environ={})


def test_options_of_another_backend_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="device, batch_size"):
        EmbeddingService(api_key=TEST_KEY, device="cpu", batch_size=8)
    with pytest.raises(ConfigurationError, match="api_key"):
        EmbeddingService(api_key=TEST_KEY, provider="local")
    with pytest.raises(ConfigurationError, match="no OpenAI-style embeddings"):
        EmbeddingService(api_key=TEST_KEY, provider="anthropic")


async def test_base64_vectors_equal_the_float_answer(fake: FakeProviderServer) -> None:
    texts = ["The quick brown fox", "jumps over the lazy dog", "ünïcødé ✓ text"]
    async with service(fake) as embeddings:
        ours = await embeddings.embed(texts)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.openai_base_url}/embeddings",
            json={"model": "text-embedding-3-small", "input": texts, "encoding_format": "float"},
            headers={"Authorization": f"Bearer {TEST_KEY}"},
        )
    floats = np.array([item["embedding"] for item in response.json()["data"]], dtype=np.float32)
    np.testing.assert_allclose(ours, floats, atol=1e-6)
    np.testing.assert_allclose(ours[0], fake_vector(texts[0], 1536), atol=1e-6)


async def test_order_is_kept_and_rows_are_unit_length(fake: FakeProviderServer) -> None:
    texts = [f"document number {i} about {topic}" for i, topic in enumerate("abcdefgh")]
    async with service(fake) as embeddings:
        vectors = await embeddings.embed(texts)
        single = await embeddings.embed_query(texts[5])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[5], single)
    for row, text in zip(vectors, texts, strict=True):
        np.testing.assert_allclose(row, fake_vector(text, 1536), atol=1e-6)


async def test_empty_input_gives_an_empty_matrix_without_a_request(
    fake: FakeProviderServer,
) -> None:
    async with service(fake, dimensions=256) as embeddings:
        vectors = await embeddings.embed([])
    assert vectors.shape == (0, 256) and vectors.dtype == np.float32
    assert fake.requests == []


async def test_dimensions_are_sent_and_reported(fake: FakeProviderServer) -> None:
    async with service(fake, model="text-embedding-3-large", dimensions=256) as embeddings:
        vectors = await embeddings.embed(["short vectors"])
    assert vectors.shape == (1, 256)
    assert embeddings.dimension == 256
    assert embeddings.model_id == "openai:text-embedding-3-large:256"
    [body] = embedding_requests(fake)
    assert body["dimensions"] == 256


def test_dimensions_are_checked_against_the_model() -> None:
    with pytest.raises(ConfigurationError, match="does not support dimensions"):
        EmbeddingService(api_key=TEST_KEY, model="text-embedding-ada-002", dimensions=256)
    with pytest.raises(ConfigurationError, match="more than"):
        EmbeddingService(api_key=TEST_KEY, dimensions=4096)


async def test_more_than_2048_inputs_are_split_across_requests(fake: FakeProviderServer) -> None:
    texts = [f"item {i}" for i in range(2050)]
    async with service(fake, dimensions=8) as embeddings:
        vectors = await embeddings.embed(texts)
    sizes = [len(body["input"]) for body in embedding_requests(fake)]  # type: ignore[arg-type]
    assert sorted(sizes) == [2, 2048]
    assert vectors.shape == (2050, 8)
    np.testing.assert_allclose(vectors[2049], fake_vector("item 2049", 8), atol=1e-6)


async def test_a_failed_request_of_a_split_call_fails_the_call(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.auth_error())
    async with service(fake, clock, dimensions=8) as embeddings:
        with pytest.raises(AuthenticationError):
            await embeddings.embed([f"item {i}" for i in range(2050)])
        assert embeddings.cache_stats.misses == 2050
        vectors = await embeddings.embed(["item 1"])  # nothing half-cached, service usable
    assert vectors.shape == (1, 8)


async def test_the_per_request_token_budget_splits_requests(fake: FakeProviderServer) -> None:
    texts = [f"{i} " + "word " * 7990 for i in range(40)]  # ~8,000 tokens each
    async with service(fake, dimensions=8) as embeddings:
        vectors = await embeddings.embed(texts)
    bodies = embedding_requests(fake)
    assert len(bodies) == 2
    assert vectors.shape == (40, 8)
    assert sum(len(body["input"]) for body in bodies) == 40  # type: ignore[arg-type]
    assert embeddings.usage.input_tokens > 300_000


async def test_an_input_over_the_token_limit_is_refused_before_sending(
    fake: FakeProviderServer,
) -> None:
    async with service(fake) as embeddings:
        with pytest.raises(ContextLengthError, match=r"of \d+ tokens .*8191.*truncate=True"):
            await embeddings.embed(["fine", "word " * 9000])
    assert fake.requests == []


async def test_truncate_cuts_long_inputs_to_the_limit(fake: FakeProviderServer) -> None:
    records: list[RequestRecord] = []
    async with service(fake, truncate=True) as embeddings:
        embeddings.subscribe(records.append)
        vectors = await embeddings.embed(["word " * 9000])
    assert vectors.shape == (1, 1536)
    [record] = records
    assert record.input_tokens == 8191


async def test_empty_strings_are_refused(fake: FakeProviderServer) -> None:
    async with service(fake) as embeddings:
        with pytest.raises(ConfigurationError, match="empty string"):
            await embeddings.embed(["", "x"])


async def test_a_single_string_is_not_taken_for_a_list(fake: FakeProviderServer) -> None:
    async with service(fake) as embeddings:
        with pytest.raises(ConfigurationError, match="list of strings"):
            await embeddings.embed("hello")  # type: ignore[arg-type]


async def test_a_rate_limit_is_retried_after_the_servers_wait(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=2))
    records: list[RequestRecord] = []
    async with service(fake, clock) as embeddings:
        embeddings.subscribe(records.append)
        vectors = await embeddings.embed(["retry me"])
    assert vectors.shape == (1, 1536)
    assert clock.sleeps == [2.0]
    assert len(embedding_requests(fake)) == 2
    [record] = records
    assert record.success and record.attempts == 2


async def test_server_errors_back_off_exponentially(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.server_error(500))
    fake.faults.push(Fault.server_error(503))
    async with service(fake, clock) as embeddings:
        await embeddings.embed(["retry me twice"])
    assert clock.sleeps == [1.0, 2.0]


async def test_retries_give_up_after_max_retries(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.add(Fault.rate_limit(retry_after=None), times=None)
    records: list[RequestRecord] = []
    policy = RetryPolicy(max_retries=2, backoff=ExponentialBackoff(jitter=0.0))
    async with service(fake, clock, retry=policy) as embeddings:
        embeddings.subscribe(records.append)
        with pytest.raises(RateLimitError):
            await embeddings.embed(["always limited"])
    assert clock.sleeps == [1.0, 2.0]
    [record] = records
    assert not record.success and record.error_type == "rate_limit" and record.attempts == 3


async def test_a_wrong_key_is_an_authentication_error_not_retried(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    records: list[RequestRecord] = []
    async with service(fake, clock, api_key="sk-wrong-key-0123456789") as embeddings:
        embeddings.subscribe(records.append)
        with pytest.raises(AuthenticationError) as caught:
            await embeddings.embed(["hello"])
    assert "sk-wrong-key-0123456789" not in str(caught.value)
    assert clock.sleeps == []
    assert len(fake.requests) == 1
    [record] = records
    assert not record.success and record.error_type == "authentication"


async def test_a_malformed_answer_is_an_invalid_response(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.push(Fault.malformed_json())
    async with service(fake, clock) as embeddings:
        with pytest.raises(InvalidResponseError, match="documented format"):
            await embeddings.embed(["hello"])


async def test_records_carry_tokens_and_cost_and_totals_add_up(
    fake: FakeProviderServer,
) -> None:
    records: list[RequestRecord] = []
    async with service(fake) as embeddings:
        embeddings.subscribe(records.append)
        await embeddings.embed(["one two three", "four five"])
        await embeddings.embed(["six seven eight nine"])
    assert len(records) == 2
    price = PricingTable.default().get("text-embedding-3-small")
    assert price is not None
    for record in records:
        assert record.success and record.provider == "openai"
        assert record.model_requested == "text-embedding-3-small"
        assert record.input_tokens > 0 and record.output_tokens == 0
        assert record.usage is not None and not record.usage.estimated
        assert record.estimated_cost == pytest.approx(record.input_tokens * price.input / 1e6)
        assert record.operation == "embedding"
    assert embeddings.usage.input_tokens == sum(r.input_tokens for r in records)
    assert embeddings.total_cost == pytest.approx(sum(r.estimated_cost or 0 for r in records))


async def test_the_cache_prevents_a_second_request(fake: FakeProviderServer) -> None:
    async with service(fake) as embeddings:
        first = await embeddings.embed(["alpha", "beta"])
        second = await embeddings.embed(["beta", "alpha", "gamma"])
    bodies = embedding_requests(fake)
    assert [body["input"] for body in bodies] == [["alpha", "beta"], ["gamma"]]
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[1], first[0])
    stats = embeddings.cache_stats
    assert (stats.hits, stats.misses) == (2, 3)
    assert stats.hit_rate == pytest.approx(0.4)


async def test_a_lone_surrogate_is_sent_as_u_fffd(fake: FakeProviderServer) -> None:
    """Valid JSON can hold one ("\\ud800"); UTF-8 cannot, so the request failed before."""
    text = json.loads('"caf\\ud800 menu"')
    async with service(fake) as embeddings:
        [vector] = await embeddings.embed([text])
        [same] = await embeddings.embed(["caf\ufffd menu"])  # from the cache: the same text
    assert [body["input"] for body in embedding_requests(fake)] == [["caf\ufffd menu"]]
    np.testing.assert_array_equal(vector, same)


async def test_duplicates_within_a_call_are_embedded_once(fake: FakeProviderServer) -> None:
    async with service(fake, cache=False) as embeddings:
        vectors = await embeddings.embed(["same", "other", "same", "same"])
    [body] = embedding_requests(fake)
    assert body["input"] == ["same", "other"]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])
    assert embeddings.cache_stats.duplicates == 2


async def test_the_cache_is_keyed_by_dimensions(fake: FakeProviderServer) -> None:
    async with service(fake, dimensions=64) as small:
        assert small.cache is not None
        async with service(fake, cache=small.cache) as full:
            await small.embed(["text"])
            vector = await full.embed_query("text")
            await small.embed(["text"])
    assert vector.shape == (1536,)
    assert len(embedding_requests(fake)) == 2


async def test_concurrent_calls_share_one_request(fake: FakeProviderServer) -> None:
    async with service(fake) as embeddings:
        first, second = await asyncio.gather(
            embeddings.embed(["shared text", "one"]), embeddings.embed(["shared text", "two"])
        )
    np.testing.assert_array_equal(first[0], second[0])
    inputs = sorted(text for body in embedding_requests(fake) for text in body["input"])  # type: ignore[attr-defined]
    assert inputs == ["one", "shared text", "two"]
    assert embeddings.cache_stats.shared == 1


async def test_a_waiter_recomputes_when_the_sharing_call_is_cancelled(
    fake: FakeProviderServer,
) -> None:
    async with service(fake) as embeddings:
        owner = asyncio.create_task(embeddings.embed(["cancelled text"]))
        await asyncio.sleep(0)  # the owner claims the text, then waits on its request
        waiter = asyncio.create_task(embeddings.embed(["cancelled text"]))
        await asyncio.sleep(0)  # the waiter finds the owner's claim and waits on it
        owner.cancel()
        vector = await asyncio.wait_for(waiter, 10.0)
    np.testing.assert_allclose(vector[0], fake_vector("cancelled text", 1536), atol=1e-6)
    assert owner.cancelled()
    assert embeddings.cache_stats.shared == 1


async def test_float_answers_without_usage_are_counted_and_the_dimension_learned() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        data = [
            {"object": "embedding", "index": i, "embedding": [3.0, 4.0, 0.0]}
            for i, _ in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    embeddings = EmbeddingService(
        api_key=TEST_KEY,
        provider="openai_compatible",
        model="nomic-embed-text",
        base_url="http://local.test/v1",
        http_client=client,
    )
    with pytest.raises(ConfigurationError, match="not known before"):
        _ = embeddings.dimension
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no price for this model: cost None, warned
        vectors = await embeddings.embed(["hello there"])
    np.testing.assert_allclose(vectors, [[0.6, 0.8, 0.0]])
    assert embeddings.dimension == 3
    assert embeddings.usage.estimated and embeddings.usage.input_tokens == 2
    await client.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        {"data": []},
        {"data": [{"index": 0, "embedding": "not base64!"}]},
        {"data": [{"index": 1, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": ["x"]}]},
        [1, 2],
    ],
)
async def test_answers_breaking_the_format_are_invalid(answer: object) -> None:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    )
    embeddings = EmbeddingService(api_key=TEST_KEY, http_client=client)
    with pytest.raises(InvalidResponseError):
        await embeddings.embed(["hello"])
    await client.aclose()


async def test_vectors_of_the_wrong_size_are_invalid() -> None:
    answer = {"data": [{"index": 0, "embedding": [1.0, 0.0]}], "usage": {"prompt_tokens": 1}}
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    )
    embeddings = EmbeddingService(api_key=TEST_KEY, http_client=client)
    with pytest.raises(InvalidResponseError, match="dimension 1536"):
        await embeddings.embed(["hello"])
    await client.aclose()


async def test_the_service_serves_the_semantic_cache_as_its_embedder(
    fake: FakeProviderServer,
) -> None:
    async with service(fake) as embeddings:
        index = SemanticIndex(embeddings, threshold=0.9)
        vector = await index.vector("How do I reset my password?")
        index.add("scope", "key-1", vector)
        match = index.best("scope", await index.vector("How do I reset my password?"))
    assert match is not None and match.key == "key-1"
    assert len(embedding_requests(fake)) == 1  # the second lookup was a cache hit


def test_exports_match_all() -> None:
    import ai.rag.embedding_backends as backends
    import ai.rag.embeddings as module

    assert set(module.__all__) == {"EmbeddingCacheStats", "EmbeddingService"}
    for name in [*module.__all__]:
        assert getattr(module, name).__name__ == name
    for name in backends.__all__:
        assert hasattr(backends, name)
