"""What an embedding backend provides, and what the service hands it.

`EmbeddingService` does the shared work (deduplication, caching, batching by
`max_batch`, L2 normalisation, order); a backend only turns one batch of texts into a
matrix. This is simonw/llm's `EmbeddingModel.embed_batch` idea.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt

from ai.accounting.pricing import PricingTable
from ai.calls.retry import RetryPolicy
from ai.core.clock import Clock
from ai.core.records import RequestRecord
from ai.errors import ConfigurationError

Matrix = npt.NDArray[np.float32]


class EmbeddingBackend(Protocol):
    """One embedding model behind one API or runtime."""

    @property
    def model_id(self) -> str:
        """Identity of the vector space (provider, model, dimensions): the cache namespace."""
        ...

    @property
    def dimension(self) -> int | None:
        """Vector size, or None while unknown (an unlisted remote model before its first call)."""
        ...

    @property
    def max_batch(self) -> int:
        """Most texts one `embed_batch` call accepts."""
        ...

    async def embed_batch(self, texts: Sequence[str]) -> Matrix:
        """One row per text, in order; need not be normalised."""
        ...

    async def aclose(self) -> None:
        """Release connections or memory."""
        ...


@dataclass(frozen=True, slots=True)
class EmbeddingOptions:
    """The settings a backend is built from. `None` means "not given": each backend
    rejects settings that do not apply to it, so a misplaced option is never ignored."""

    provider: str
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    dimensions: int | None = None
    device: str | None = None
    batch_size: int | None = None
    timeout: float | None = None
    retry: RetryPolicy | None = None
    truncate: bool | None = None
    max_concurrency: int | None = None

    def reject_unused(self, allowed: frozenset[str]) -> None:
        """Raise `ConfigurationError` naming any option set that this backend ignores."""
        unused = [
            f.name
            for f in fields(self)
            if f.name not in allowed and f.name != "provider" and getattr(self, f.name) is not None
        ]
        if unused:
            raise ConfigurationError(
                f"EmbeddingService(provider={self.provider!r}) does not use "
                f"{', '.join(unused)}; remove {'it' if len(unused) == 1 else 'them'}."
            )


@dataclass(frozen=True, slots=True)
class BackendContext:
    """Seams shared by the service and its backend: clock, record sink, HTTP client,
    prices and environment. Tests inject fakes; the defaults are the real things."""

    clock: Clock
    emit: Callable[[RequestRecord], None]
    rng: random.Random
    environ: Mapping[str, str]
    http_client: httpx.AsyncClient | None = None
    pricing: PricingTable | None = None


BackendFactory = Callable[[EmbeddingOptions, BackendContext], EmbeddingBackend]
