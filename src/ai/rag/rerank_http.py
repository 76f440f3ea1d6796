"""`HttpReranker`: a hosted reranker in the Cohere/Jina wire format.

    POST {base_url}/v1/rerank
    {"model": "...", "query": "...", "documents": ["...", ...], "top_n": 5}
    -> {"results": [{"index": 3, "relevance_score": 0.91}, ...]}

Cohere (``https://api.cohere.com``), Jina (``https://api.jina.ai``) and self-hosted
servers that copy them (Infinity, TEI's rerank route behind a proxy) speak this shape; the
host is only a base URL and a key. Requests go through the same machinery as LLM and
embedding calls (`ai.calls`): one deadline over all tries, retries with backoff for
retryable failures (429 honouring Retry-After, 5xx, timeouts, dropped connections), a
circuit breaker, and errors converted once into the `ai.errors` tree:
`AuthenticationError` (401/403), `RateLimitError` (429), `ModelNotFoundError` (404),
`ProviderTimeoutError`, `ProviderConnectionError`, `InvalidResponseError` (an answer not
in the format) and `ProviderError` for the rest. `ai.testing` serves a loopback fake of
this API (``POST /v1/rerank`` on `FakeProviderServer`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import httpx

from ai.calls import transport
from ai.calls.attempts import ProviderCalls, invalid_response
from ai.calls.circuit import CircuitBreaker
from ai.calls.config import ResolvedRoute
from ai.calls.resilience import CallProgress, ResilientCaller
from ai.calls.retry import RetryPolicy
from ai.core.clock import Clock, SystemClock
from ai.errors import ConfigurationError
from ai.providers.base import ErrorDetails, MalformedResponse, ProviderSpec, parse_json
from ai.providers.openai_format import OpenAIChatFormat
from ai.rag.reranking import RerankResult

__all__ = ["HttpReranker", "parse_rerank_response"]

RERANK_PATH = "/v1/rerank"


class _RerankErrors(OpenAIChatFormat):
    """Error bodies of rerank hosts: Cohere's ``{"message"}``, Jina's ``{"detail"}``, or
    OpenAI's ``{"error": {...}}``; statuses are classified by the shared mapping."""

    name = "rerank"

    def error_details(self, data: Any) -> ErrorDetails | None:
        if isinstance(data, dict):
            for key in ("message", "detail"):
                if isinstance(data.get(key), str):
                    return ErrorDetails(message=data[key])
        return super().error_details(data)


class HttpReranker:
    """Reranks through ``POST {base_url}{path}`` (Cohere/Jina format).

    `http_client` is a seam for tests and shared connection pools (closed by the caller);
    without it the reranker opens its own and `aclose` closes it. `timeout` is the
    deadline over all tries of one call; `retry` the retry policy (3 retries by default).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        provider: str = "rerank",
        path: str = RERANK_PATH,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must be an http(s) URL, got {base_url!r}.")
        if not model:
            raise ConfigurationError("model names the rerank model, e.g. 'rerank-v3.5'.")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout}.")
        self.model = model
        self.timeout = timeout
        self.url = base_url.rstrip("/") + "/" + path.lstrip("/")
        self._route = _route(provider, model, base_url.rstrip("/"), api_key)
        self._clock = clock or SystemClock()
        self._client = http_client
        self._owns_client = http_client is None
        self._calls = ProviderCalls(self._http, self._clock)
        self._caller = ResilientCaller(
            retry or RetryPolicy(),
            self._clock,
            rng or random.Random(),
            lambda: CircuitBreaker(self._clock),
        )

    async def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """The host's scores, best first; at most `top_n` (all documents when None)."""
        if not documents:
            return []
        count = len(documents)
        body = {
            "model": self.model,
            "query": query,
            "documents": list(documents),
            "top_n": count if top_n is None else min(top_n, count),
        }
        content = transport.encode_body(body)
        started = self._clock.monotonic()
        progress = CallProgress(
            started=started, deadline=started + self.timeout, timeout=self.timeout
        )

        async def attempt(route: ResolvedRoute, remaining: float) -> list[RerankResult]:
            answer = await transport.post(self._http(), route, content, remaining, url=self.url)
            if answer.status >= 400:
                raise self._calls.error_from_answer(route, answer)
            try:
                return parse_rerank_response(parse_json(answer.content), count)
            except MalformedResponse as exc:
                raise invalid_response(route, exc) from exc

        return await self._caller.call([self._route], attempt, progress)

    async def aclose(self) -> None:
        """Close the connection pool this reranker opened (not one it was given)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client


def parse_rerank_response(data: Any, count: int) -> list[RerankResult]:
    """``{"results": [{"index", "relevance_score"}, ...]}`` -> results, best first.

    `MalformedResponse` for anything else: a missing list, an index out of range or
    repeated, a score that is not a number."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise MalformedResponse("the body has no `results` list")
    parsed: list[RerankResult] = []
    seen: set[int] = set()
    for item in results:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score") if isinstance(item, dict) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise MalformedResponse(f"a result with an index outside 0..{count - 1}: {index!r}")
        if index in seen:
            raise MalformedResponse(f"index {index} appears twice in `results`")
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise MalformedResponse(f"a result with a non-numeric relevance_score: {score!r}")
        seen.add(index)
        parsed.append(RerankResult(index, float(score)))
    parsed.sort(key=lambda result: (-result.score, result.index))
    return parsed


def _route(provider: str, model: str, base_url: str, api_key: str | None) -> ResolvedRoute:
    def bearer(key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    spec = ProviderSpec(
        name=provider,
        wire=_RerankErrors(),
        default_base_url=base_url,
        api_key_env="",
        base_url_env="",
        auth_headers=bearer,
        api_key_required=False,
    )
    headers = {"content-type": "application/json", **(bearer(api_key) if api_key else {})}
    secrets = (api_key,) if api_key else ()
    return ResolvedRoute(spec, model, base_url, headers, secrets)
