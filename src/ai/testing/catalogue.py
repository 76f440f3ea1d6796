"""Which models the fake serves, which API owns each, and what OpenRouter charges for them.

The real providers each know their own model ids; the fake decides ownership from the id's
shape so one `models=` list configures all three APIs:

* ids with a slash (`openai/gpt-4o-mini`) belong to OpenRouter,
* ids starting with `claude` belong to Anthropic,
* everything else belongs to OpenAI; of those, ids starting with `text-embedding` are
  embedding models (served only at `/v1/embeddings`, refused at `/v1/chat/completions`).

A model outside the configured set gets the owning provider's real "not found" error, so
tests of fallback chains and typo handling see what production would show them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Api(StrEnum):
    """The provider surfaces the fake serves; faults and the request log match on these."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENROUTER = "openrouter"
    EMBEDDINGS = "embeddings"
    RERANK = "rerank"


DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "o1",
    "o1-mini",
    "o1-preview",
    "o3",
    "o3-2025-04-16",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5-chat-latest",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "claude-3-haiku-20240307",
    "claude-3-5-haiku-20241022",
    "claude-3-5-sonnet-20241022",
    "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-5",
    "claude-sonnet-4-20250514",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "openai/o3-mini",
    "anthropic/claude-3-haiku",
    "anthropic/claude-3.5-sonnet",
    "meta-llama/llama-3.1-8b-instruct",
    "google/gemini-flash-1.5",
    "rerank-v3.5",
    "rerank-english-v3.0",
    "rerank-multilingual-v3.0",
    "jina-reranker-v2-base-multilingual",
)

# Illustrative OpenRouter list prices in USD per million tokens (prompt, completion). They
# only feed the fake's `usage.cost`; the library's real price table lives in ai/pricing.json.
OPENROUTER_PRICES: dict[str, tuple[float, float]] = {
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4o": (2.50, 10.00),
    "openai/o3-mini": (1.10, 4.40),
    "anthropic/claude-3-haiku": (0.25, 1.25),
    "anthropic/claude-3.5-sonnet": (3.00, 15.00),
    "meta-llama/llama-3.1-8b-instruct": (0.02, 0.05),
    "google/gemini-flash-1.5": (0.075, 0.30),
}
# Share of the prompt price that cached prompt tokens cost in the fake's OpenRouter `cost`.
CACHED_PROMPT_DISCOUNT = 0.5
# Price for OpenRouter ids the caller added through `models=` and the table above lacks.
OPENROUTER_DEFAULT_PRICE: tuple[float, float] = (1.00, 2.00)

# The upstream provider OpenRouter names in its `provider` field, by id prefix.
_OPENROUTER_PROVIDERS: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "meta-llama": "DeepInfra",
    "mistralai": "Mistral",
}

_EMBEDDING_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def owner_of(model: str) -> Api:
    """The API that serves `model`, decided by the id's shape (see the module docstring)."""
    if model.startswith(("rerank-", "jina-reranker")):
        return Api.RERANK
    if "/" in model:
        return Api.OPENROUTER
    if model.startswith("claude"):
        return Api.ANTHROPIC
    return Api.OPENAI


def is_embedding_model(model: str) -> bool:
    """True for OpenAI embedding model ids, which chat completions refuse."""
    return model.startswith("text-embedding")


@dataclass(frozen=True, slots=True)
class ModelCatalogue:
    """The model ids one fake server accepts; immutable, so handlers read it without locks."""

    models: frozenset[str]

    @classmethod
    def of(cls, models: Iterable[str] | None) -> ModelCatalogue:
        """Build from the constructor's `models=` argument; None means `DEFAULT_MODELS`."""
        chosen = DEFAULT_MODELS if models is None else tuple(models)
        for model in chosen:
            if not isinstance(model, str) or not model:
                raise ValueError(f"model ids must be non-empty strings, got {model!r}")
        return cls(frozenset(chosen))

    def serves(self, api: Api, model: str) -> bool:
        """Whether `api` answers requests for `model` (chat refuses embedding models and
        the embeddings endpoint refuses chat models)."""
        if model not in self.models:
            return False
        if api is Api.EMBEDDINGS or api is Api.OPENAI:
            return owner_of(model) is Api.OPENAI and is_embedding_model(model) == (
                api is Api.EMBEDDINGS
            )
        return owner_of(model) is api

    def lists(self, api: Api, model: str) -> bool:
        """Whether `api`'s models endpoint lists `model` (OpenAI lists embedding models)."""
        return model in self.models and owner_of(model) is api

    def listed(self, api: Api) -> list[str]:
        """Sorted model ids that `api`'s models endpoint lists."""
        return sorted(model for model in self.models if owner_of(model) is api)


def embedding_dimensions(model: str) -> int:
    """Native vector size of an embedding model (1536 unless the name says `large`)."""
    known = _EMBEDDING_DIMENSIONS.get(model)
    if known is not None:
        return known
    return 3072 if "large" in model else 1536


def supports_dimensions(model: str) -> bool:
    """Only the text-embedding-3 family accepts the `dimensions` parameter."""
    return model.startswith("text-embedding-3")


def openrouter_price(model: str) -> tuple[float, float]:
    """USD per million (prompt, completion) tokens the fake charges for an OpenRouter id."""
    return OPENROUTER_PRICES.get(model, OPENROUTER_DEFAULT_PRICE)


def openrouter_cost(
    model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> float:
    """The `usage.cost` OpenRouter would report, from `OPENROUTER_PRICES`; cached prompt
    tokens (a subset of `prompt_tokens`) cost `CACHED_PROMPT_DISCOUNT` of the prompt price."""
    prompt_price, completion_price = openrouter_price(model)
    uncached = prompt_tokens - cached_tokens
    prompt_cost = (uncached + cached_tokens * CACHED_PROMPT_DISCOUNT) * prompt_price
    return (prompt_cost + completion_tokens * completion_price) / 1_000_000


def openrouter_provider(model: str) -> str:
    """The upstream provider name OpenRouter reports for `model`."""
    prefix = model.split("/", 1)[0]
    return _OPENROUTER_PROVIDERS.get(prefix, prefix.title())
