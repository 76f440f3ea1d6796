"""Shapes shared by every vector-store backend and the retriever."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Metadata = Mapping[str, Any]


class DistanceMetric(StrEnum):
    """How closeness is measured. Scores are always "higher is closer":
    cosine similarity, dot product, or the negated Euclidean distance."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """One stored item: id, vector, metadata and (optionally) the text it came from."""

    id: str
    values: Vector
    metadata: Metadata = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A query result. `values` only when asked for (`include_values=True`)."""

    id: str
    score: float
    metadata: Metadata = field(default_factory=dict)
    text: str | None = None
    values: Vector | None = None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Size of a store: vectors per namespace, dimension, metric."""

    dimension: int | None
    metric: DistanceMetric
    namespaces: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.namespaces.values())
