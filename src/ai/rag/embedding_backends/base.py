"""What an embedding backend provides, and what the service hands it.

`EmbeddingService` does the shared work (deduplication, caching, batching by
`max_batch`, L2 normalisation, order); a backend only turns one batch of texts into a
matrix. This is simonw/llm's `EmbeddingModel.embed_batch` idea.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt

from ai.accounting.pricing import PricingTable
from ai.calls.retry import RetryPolicy
from ai.core.clock import Clock
from ai.core.guards import GuardChain, PlannedCall, RecordSlot
from ai.core.records import CallLabels, Operation, RequestRecord
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


_CALL_LABELS: ContextVar[CallLabels | None] = ContextVar("devora_embedding_labels", default=None)


@contextmanager
def labelled(labels: CallLabels) -> Iterator[None]:
    """Label the backend requests made inside this block (set by `EmbeddingService.embed`;
    a context variable, so concurrent calls and their child tasks keep their own)."""
    token = _CALL_LABELS.set(labels)
    try:
        yield
    finally:
        _CALL_LABELS.reset(token)


SendRequest = Callable[[PlannedCall, Callable[[RequestRecord], None]], Awaitable[Matrix]]
FailedRecord = Callable[[PlannedCall, BaseException], RequestRecord]


@dataclass(frozen=True, slots=True)
class BackendContext:
    """Seams shared by the service and its backend: clock, record sink, guards, HTTP
    client, prices and environment. Tests inject fakes; the defaults are the real things."""

    clock: Clock
    emit: Callable[[RequestRecord], None]
    rng: random.Random
    environ: Mapping[str, str]
    http_client: httpx.AsyncClient | None = None
    pricing: PricingTable | None = None
    guards: GuardChain = field(default_factory=GuardChain)

    async def guarded(
        self,
        *,
        provider: str,
        model: str,
        inputs: Sequence[str],
        send: SendRequest,
        failed: FailedRecord,
    ) -> Matrix:
        """Run one backend request under the guards, leaving exactly one record.

        `send` makes the request and emits its record through the sink it is given;
        `failed` builds the record when it ends without one (refused, cancelled, crashed).
        Guards may refuse an embedding request or relabel it, but not change its model:
        vectors of another model would not be comparable with the rest of the index.
        """
        labels = _CALL_LABELS.get() or CallLabels()
        planned = PlannedCall(
            operation=Operation.EMBEDDING,
            model=model,
            provider=provider,
            inputs=inputs,
            user=labels.user,
            agent=labels.agent,
            tags=labels.tags,
        )

        async def work(call: PlannedCall, slot: RecordSlot) -> Matrix:
            if (call.model, call.provider, call.parameters) != (model, provider, {}):
                raise ConfigurationError(
                    f"A guard changed the model or parameters of an embedding request for "
                    f"{model!r}; guards may refuse or relabel embedding calls, not redirect "
                    "them (vectors from another model are not comparable)."
                )
            return await send(call, slot.emit)

        return await self.guards.run(planned, self.emit, work, failed)


BackendFactory = Callable[[EmbeddingOptions, BackendContext], EmbeddingBackend]
