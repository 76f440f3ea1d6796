"""A small complexity classifier over embeddings, trained from the user's own examples.

Nearest centroid with cosine similarity: each class is the mean of its examples' unit
vectors; a text's confidence is the softmax of its similarities to the two centroids
(scaled by `temperature`). Enough to learn "this kind of request is simple here" from a
few dozen labelled examples, cheap to run, and honest about doubt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ai.core.embedder import TextEmbedder
from ai.errors import ConfigurationError

if TYPE_CHECKING:
    from ai.routing.router import Complexity


class ComplexityClassifier:
    """Classifies texts as simple or complex by their nearest class centroid."""

    def __init__(self, embedder: TextEmbedder, *, temperature: float = 0.05) -> None:
        self._embedder = embedder
        self._temperature = temperature
        self._centroids: dict[str, np.ndarray] = {}

    async def fit(self, examples: Sequence[tuple[str, Complexity | str]]) -> None:
        """Learn from labelled `(text, complexity)` examples (both classes needed)."""
        from ai.routing.router import Complexity

        labels = [Complexity(label) for _, label in examples]
        if set(labels) != set(Complexity):
            raise ConfigurationError("ComplexityClassifier.fit needs examples of both classes.")
        vectors = _unit(np.asarray(await self._embedder.embed([t for t, _ in examples])))
        for label in Complexity:
            rows = vectors[[i for i, lab in enumerate(labels) if lab is label]]
            self._centroids[label.value] = _unit(rows.mean(axis=0, keepdims=True))[0]

    async def classify(self, text: str) -> tuple[Complexity, float]:
        """(complexity, confidence in [0.5, 1]) of `text`."""
        from ai.routing.router import Complexity

        if not self._centroids:
            raise ConfigurationError("ComplexityClassifier is not fitted: call fit() first.")
        vector = _unit(np.asarray(await self._embedder.embed([text])))[0]
        simple = float(vector @ self._centroids[Complexity.SIMPLE.value])
        complex_ = float(vector @ self._centroids[Complexity.COMPLEX.value])
        margin = (complex_ - simple) / self._temperature
        p_complex = 1 / (1 + math.exp(-max(min(margin, 50.0), -50.0)))
        if p_complex >= 0.5:
            return Complexity.COMPLEX, p_complex
        return Complexity.SIMPLE, 1 - p_complex


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float64)
