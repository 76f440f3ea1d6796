"""What Pinecone can store, and how devora records travel: JSON encoding with the checks
Pinecone's data plane applies, decoding of fetched vectors, and request batching."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np

from ai.errors import ConfigurationError, StoreError
from ai.rag.filters_limits import preview
from ai.rag.types import VectorRecord

TEXT_KEY = "_text"
MAX_BATCH_VECTORS = 1_000
MAX_BATCH_BYTES = 2 * 1024 * 1024
MAX_IDS_PER_REQUEST = 1_000
MAX_ID_LENGTH = 512
MAX_METADATA_BYTES = 40 * 1024
_FETCH_QUERY_BUDGET = 6_000  # characters of `ids=...` per fetch URL


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode_vector(raw: Any) -> VectorRecord:
    """A fetched Pinecone `Vector` as a record, the text taken back out of the metadata."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        raise StoreError("Pinecone fetch returned a vector without an id.")
    metadata = dict(raw.get("metadata") or {})
    text = metadata.pop(TEXT_KEY, None)
    values = np.asarray(raw.get("values") or [], dtype=np.float32)
    return VectorRecord(raw["id"], values, metadata, text if isinstance(text, str) else None)


def encode_record(record: VectorRecord) -> bytes:
    """One vector's JSON, after checking what Pinecone would refuse."""
    vector_id = record.id
    if len(vector_id) > MAX_ID_LENGTH or not vector_id.isascii() or "\x00" in vector_id:
        raise ConfigurationError(
            f"Pinecone ids must be 1-{MAX_ID_LENGTH} ASCII characters without NUL; "
            f"{vector_id[:40]!r} is not."
        )
    metadata = {
        key: _metadata_value(vector_id, key, value) for key, value in record.metadata.items()
    }
    if TEXT_KEY in metadata:
        raise ConfigurationError(
            f"record {vector_id!r}: the metadata key {TEXT_KEY!r} is reserved for the text."
        )
    metadata = {key: value for key, value in metadata.items() if value is not None}
    if record.text is not None:
        metadata[TEXT_KEY] = record.text
    encoded_metadata = dumps(metadata)
    if len(encoded_metadata) > MAX_METADATA_BYTES:
        raise ConfigurationError(
            f"record {vector_id!r}: metadata and text take {len(encoded_metadata)} bytes; "
            f"Pinecone stores at most {MAX_METADATA_BYTES} per vector. Chunk the text smaller."
        )
    body: dict[str, Any] = {"id": vector_id, "values": record.values.tolist()}
    if metadata:
        body["metadata"] = metadata
    return dumps(body)


def _metadata_value(vector_id: str, key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float64
            number = math.inf
        if math.isfinite(number):
            return value.item() if isinstance(value, np.generic) else value
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ConfigurationError(
        f"record {vector_id!r}: metadata {preview(key)} = {preview(value)} cannot be stored in "
        "Pinecone, which takes strings, finite numbers, booleans and lists of strings."
    )


def batches(encoded: Sequence[bytes], budget: int) -> Iterator[list[bytes]]:
    """Consecutive groups within `MAX_BATCH_VECTORS` and `budget` bytes (commas included)."""
    batch: list[bytes] = []
    size = 0
    for item in encoded:
        if batch and (len(batch) >= MAX_BATCH_VECTORS or size + len(item) + 1 > budget):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item) + 1
    if batch:
        yield batch


def id_batches(ids: Sequence[str]) -> Iterator[list[str]]:
    """Fetch batches: at most 1,000 ids and a URL of modest length."""
    batch: list[str] = []
    length = 0
    for vector_id in ids:
        cost = len(quote(vector_id, safe="")) + 5
        if batch and (len(batch) >= MAX_IDS_PER_REQUEST or length + cost > _FETCH_QUERY_BUDGET):
            yield batch
            batch, length = [], 0
        batch.append(vector_id)
        length += cost
    if batch:
        yield batch
