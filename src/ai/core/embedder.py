"""The one thing retrieval and semantic caching need from an embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class TextEmbedder(Protocol):
    """Turns texts into vectors, one per text, in order (`ai.rag.EmbeddingService` is one)."""

    async def embed(
        self, texts: Sequence[str]
    ) -> Sequence[Sequence[float]] | npt.NDArray[np.floating]:
        """One vector per text."""
        ...
