"""The OpenAI embeddings API (`POST /embeddings`), also as served by OpenAI-compatible hosts.

Requests stay within the API's limits (2,048 inputs and 300,000 tokens per request, 8,191
tokens per input for OpenAI's models), ask for base64 vectors (a quarter of the JSON's
size, decoded straight into float32), and go through the same retry, deadline and
circuit-breaker machinery as `LLMService` (`ai.calls.resilience`), with httpx errors and HTTP
statuses converted by the same code (`ai.calls.transport`, `ai.calls.attempts`). Each HTTP request,
success or failure, emits one `RequestRecord` with its tokens and cost.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from ai.accounting.pricing import PricingTable
from ai.accounting.tokens import ModelEncoding, encoding_for_model
from ai.calls import transport
from ai.calls.attempts import ProviderCalls, invalid_response
from ai.calls.circuit import CircuitBreaker
from ai.calls.config import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    ModelRoute,
    ResolvedRoute,
    check_connection_limits,
    http_limits,
    resolve_route,
)
from ai.calls.http_pool import pooled_client
from ai.calls.resilience import CallProgress, ResilientCaller
from ai.calls.retry import RetryPolicy
from ai.core.guards import PlannedCall
from ai.core.records import CostSource, Operation, RequestRecord
from ai.core.usage import Usage
from ai.errors import ConfigurationError, ContextLengthError, ProviderError, describe_failure
from ai.providers.base import MalformedResponse, parse_json
from ai.providers.openai_format import OpenAIChatFormat
from ai.providers.registry import default_registry
from ai.rag.chunk_limits import InputLimit
from ai.rag.embedding_backends.base import BackendContext, EmbeddingOptions, Matrix
from ai.rag.embedding_backends.batching import plan_batches

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
OPENAI_MAX_INPUT_TOKENS = 8191
NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_SHORTENABLE = ("text-embedding-3-small", "text-embedding-3-large")
_ALLOWED = frozenset(
    {"model", "api_key", "base_url", "dimensions", "timeout", "retry", "truncate",
     "max_concurrency"}
)  # fmt: skip
_EMBEDDINGS_PATH = "/embeddings"


@dataclass(frozen=True, slots=True)
class _Reply:
    matrix: Matrix
    usage: Usage
    model: str | None


class OpenAIEmbeddingBackend:
    """Embeddings over the OpenAI wire format, batched, retried, priced and recorded."""

    def __init__(
        self,
        context: BackendContext,
        route: ResolvedRoute,
        *,
        dimensions: int | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        truncate: bool = False,
        max_concurrency: int = 4,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout}.")
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}.")
        self._context = context
        self._route = route
        self.model = route.model
        self._dimensions = _checked_dimensions(route.model, dimensions)
        self._dimension = self._dimensions or NATIVE_DIMENSIONS.get(route.model)
        self.timeout = timeout
        self.truncate = truncate
        self.max_concurrency = max_concurrency
        self.max_input_tokens = (
            OPENAI_MAX_INPUT_TOKENS if route.model in NATIVE_DIMENSIONS else None
        )
        self._encoding: ModelEncoding | None = None
        self._client = context.http_client
        self._owns_client = context.http_client is None
        self._limits = http_limits(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS)
        self._http2 = False
        self._calls = ProviderCalls(self._http, context.clock)
        self._caller = ResilientCaller(
            retry or RetryPolicy(),
            context.clock,
            context.rng,
            lambda: CircuitBreaker(context.clock),
        )

    @property
    def provider(self) -> str:
        return self._route.provider

    @property
    def model_id(self) -> str:
        # Requested or documented size, never a learned one: the id must not change
        # between a process's first call and its next start (persistent caches).
        size = self._dimensions or NATIVE_DIMENSIONS.get(self.model) or "native"
        return f"{self._route.provider}:{self.model}:{size}"

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def max_batch(self) -> int:
        """Enough for `max_concurrency` full requests, so large calls run in parallel."""
        return MAX_INPUTS_PER_REQUEST * self.max_concurrency

    def input_limit(self) -> InputLimit | None:
        """What the model reads of one input (`ai.rag.chunk_limits`): 8191 tokens of its
        encoding for OpenAI's models, None for models it does not know."""
        if self.max_input_tokens is None:
            return None
        return InputLimit(self.model, self.max_input_tokens, encoding_model=self.model)

    @property
    def url(self) -> str:
        return self._route.base_url + _EMBEDDINGS_PATH

    async def embed_batch(self, texts: Sequence[str]) -> Matrix:
        """Split into requests within the API's limits, send up to `max_concurrency` at once."""
        inputs, counts = self._fit(texts)
        batches = plan_batches(counts, MAX_INPUTS_PER_REQUEST, MAX_TOKENS_PER_REQUEST)
        if len(batches) == 1:
            return await self._request(inputs, sum(counts))
        gate = asyncio.Semaphore(self.max_concurrency)

        async def send(batch: range) -> Matrix:
            async with gate:
                return await self._request(
                    inputs[batch.start : batch.stop], sum(counts[batch.start : batch.stop])
                )

        tasks = [asyncio.ensure_future(send(batch)) for batch in batches]
        try:
            return np.concatenate(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:  # one request failed for good: the others are wasted work
                task.cancel()
            raise

    def set_connection_limits(
        self, max_connections: int | None, max_keepalive_connections: int | None, http2: bool
    ) -> None:
        """Bound the connection pool of the httpx client this backend opens for itself
        (`None`: no limit), like `LLMConfig`'s settings of the same names; the defaults are
        `LLMConfig`'s. Only before the first request, and not with a client passed in."""
        if not self._owns_client:
            raise ConfigurationError(
                "max_connections, max_keepalive_connections and http2 shape the client "
                "EmbeddingService opens itself; set them on the http_client you pass instead."
            )
        if self._client is not None:
            raise ConfigurationError("connection limits must be set before the first request.")
        check_connection_limits(
            max_connections, max_keepalive_connections, http2, "EmbeddingService"
        )
        self._limits = http_limits(max_connections, max_keepalive_connections)
        self._http2 = http2

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _fit(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """Token counts per input; inputs over the model's limit truncated or refused."""
        encoding = self._token_encoding()
        inputs = list(texts)
        if "" in inputs:
            raise ConfigurationError(
                "An input is an empty string, which the embeddings API rejects; "
                "leave empty texts out."
            )
        counts = [encoding.count(text) for text in inputs]
        limit = self.max_input_tokens
        if limit is None:
            return inputs, counts
        for index, count in enumerate(counts):
            if count <= limit:
                continue
            if not self.truncate:
                raise ContextLengthError(
                    f"An input of {count} tokens ({inputs[index][:40]!r}...) is longer than "
                    f"the {limit} that {self.model!r} accepts. "
                    "Split it into chunks (ai.rag.chunking), or pass truncate=True to cut it.",
                    provider=self.provider,
                    model=self.model,
                )
            inputs[index], counts[index] = truncate_to_tokens(encoding, inputs[index], limit)
        return inputs, counts

    def _token_encoding(self) -> ModelEncoding:
        if self._encoding is None:
            self._encoding = encoding_for_model(self.model)
        return self._encoding

    async def _request(self, inputs: list[str], counted_tokens: int) -> Matrix:
        clock = self._context.clock
        started = clock.monotonic()
        progress = CallProgress(
            started=started,
            deadline=started + self.timeout,
            timeout=self.timeout,
            route=self._route,
        )
        body: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "base64"}
        if self._dimensions is not None:
            body["dimensions"] = self._dimensions
        content = transport.encode_body(body)

        async def attempt(route: ResolvedRoute, remaining: float) -> _Reply:
            answer = await transport.post(self._http(), route, content, remaining, url=self.url)
            if answer.status >= 400:
                raise self._calls.error_from_answer(route, answer)
            try:
                return self._parse(parse_json(answer.content), len(inputs), counted_tokens)
            except MalformedResponse as exc:
                raise invalid_response(route, exc) from exc

        async def send(call: PlannedCall, emit: Callable[[RequestRecord], None]) -> Matrix:
            try:
                reply = await self._caller.call([self._route], attempt, progress)
            except ProviderError as error:
                emit(self._record(call, progress, len(inputs), None, error))
                raise
            emit(self._record(call, progress, len(inputs), reply, None))
            return reply.matrix

        def failed(call: PlannedCall, error: BaseException) -> RequestRecord:
            return self._record(call, progress, len(inputs), None, error)

        return await self._context.guarded(
            provider=self.provider, model=self.model, inputs=inputs, send=send, failed=failed
        )

    def _parse(self, data: Any, count: int, counted_tokens: int) -> _Reply:
        matrix = parse_embeddings_response(data, count, self._dimension)
        if self._dimension is None:
            self._dimension = int(matrix.shape[1])
        model = data.get("model")
        return _Reply(
            matrix,
            _usage(data.get("usage"), counted_tokens),
            model if isinstance(model, str) else None,
        )

    def _record(
        self,
        call: PlannedCall,
        progress: CallProgress,
        count: int,
        reply: _Reply | None,
        error: BaseException | None,
    ) -> RequestRecord:
        clock = self._context.clock
        cost = None
        if reply is not None:
            pricing = self._context.pricing or PricingTable.default()
            cost = pricing.cost(self.model, reply.usage)
        error_type, message = describe_failure(error) if error else (None, None)
        return RequestRecord(
            request_id=call.request_id,
            timestamp=clock.now(),
            provider=self.provider,
            model_requested=self.model,
            model=(reply.model or self.model) if reply else None,
            usage=reply.usage if reply else None,
            estimated_cost=cost,
            latency_ms=(clock.monotonic() - progress.started) * 1000,
            time_to_first_token_ms=None,
            attempts=progress.attempts,
            success=error is None,
            error_type=error_type,
            error_message=message,
            cost_source=CostSource.PRICING if cost is not None else None,
            user=call.user,
            agent=call.agent,
            tags={**call.tags, "inputs": str(count)},
            operation=Operation.EMBEDDING,
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = pooled_client(
                timeout=self.timeout, limits=self._limits, http2=self._http2
            )
        return self._client


def parse_embeddings_response(data: Any, count: int, dimension: int | None) -> Matrix:
    """The `data` list of an embeddings answer as a (count, d) float32 matrix, by `index`.

    Accepts base64 (little-endian float32) and plain float lists, since some compatible
    servers ignore `encoding_format`.
    """
    if not isinstance(data, dict):
        raise MalformedResponse("the body is not a JSON object")
    items = data.get("data")
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else "no list"
        raise MalformedResponse(f"expected {count} embeddings in `data`, got {got}")
    rows: list[Matrix | None] = [None] * count
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or rows[index] is not None:
            raise MalformedResponse(f"an embedding with a missing or repeated index: {index!r}")
        rows[index] = _vector(item.get("embedding"))
    width = dimension or (rows[0].shape[0] if rows and rows[0] is not None else 0)
    if any(row is None or row.shape[0] != width or width == 0 for row in rows):
        raise MalformedResponse(f"embeddings are not all of dimension {width}")
    return np.stack(rows).astype(np.float32, copy=False)  # type: ignore[arg-type]


def _usage(raw: Any, counted_tokens: int) -> Usage:
    """The reported prompt tokens; our own count, marked estimated, when there are none."""
    tokens = raw.get("prompt_tokens") if isinstance(raw, dict) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        return Usage(input_tokens=tokens)
    return Usage(input_tokens=counted_tokens, estimated=True)


def _vector(raw: Any) -> Matrix:
    if isinstance(raw, str):
        try:
            return np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4")
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("an embedding is not base64 of float32 values") from exc
    if isinstance(raw, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw
    ):
        return np.asarray(raw, dtype=np.float32)
    raise MalformedResponse("an embedding is neither base64 nor a list of numbers")


def truncate_to_tokens(encoding: ModelEncoding, text: str, limit: int) -> tuple[str, int]:
    """The longest prefix of `text` (whole characters) that fits in `limit` tokens."""
    tokens = encoding.encoding.encode_ordinary(text)[:limit]
    while True:
        prefix = encoding.encoding.decode_bytes(tokens).decode("utf-8", "ignore")
        count = encoding.count(prefix)
        if count <= limit:
            return prefix, count
        tokens = tokens[: len(tokens) - (count - limit)]


def _checked_dimensions(model: str, dimensions: int | None) -> int | None:
    if dimensions is None:
        return None
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise ConfigurationError(f"dimensions must be a positive integer, got {dimensions!r}.")
    native = NATIVE_DIMENSIONS.get(model)
    if native is not None and model not in _SHORTENABLE:
        raise ConfigurationError(
            f"{model!r} does not support dimensions=; use a text-embedding-3 model to "
            "shorten vectors."
        )
    if native is not None and dimensions > native:
        raise ConfigurationError(
            f"dimensions={dimensions} is more than {model!r} produces ({native})."
        )
    return dimensions


def build_openai_backend(
    options: EmbeddingOptions, context: BackendContext
) -> OpenAIEmbeddingBackend:
    """Registry factory for `openai` and the other hosts of the OpenAI wire format."""
    options.reject_unused(_ALLOWED)
    registry = default_registry()
    spec = registry.get(options.provider)
    if not isinstance(spec.wire, OpenAIChatFormat):
        raise ConfigurationError(
            f"Provider {options.provider!r} has no OpenAI-style embeddings API; use "
            "provider='openai', 'openai_compatible' or 'local'."
        )
    key = options.api_key or context.environ.get(spec.api_key_env)
    if not key and spec.api_key_required:
        raise ConfigurationError(
            f"No API key for {spec.name} embeddings: set the environment variable "
            f"{spec.api_key_env} or pass EmbeddingService(api_key=...)."
        )
    route = resolve_route(
        ModelRoute(spec.name, options.model or DEFAULT_OPENAI_MODEL, key, options.base_url),
        registry=registry,
        environ=context.environ,
        extra_headers={},
    )
    return OpenAIEmbeddingBackend(
        context,
        route,
        dimensions=options.dimensions,
        timeout=60.0 if options.timeout is None else options.timeout,
        retry=options.retry,
        truncate=bool(options.truncate),
        max_concurrency=4 if options.max_concurrency is None else options.max_concurrency,
    )
