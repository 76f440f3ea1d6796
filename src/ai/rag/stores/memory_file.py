"""The in-memory store's file format: one `.npz` archive, no pickle.

    manifest      uint8 bytes of a JSON document: format, version, dimension, metric and,
                  per namespace, its name, ids, texts and metadata
    vectors_<i>   float32 matrix (count x dimension) of the i-th namespace

Loading uses `allow_pickle=False`, so a file can hold only arrays and JSON. Writes go to a
temporary file in the same directory, are fsynced, then renamed over the old file: a crash
leaves either the old or the new store, never half of one. The HNSW index is not saved; it
is rebuilt from the vectors when a namespace needs one.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.errors import StoreError

FORMAT = "devora-memory-vector-store"
VERSION = 1


@dataclass(frozen=True, slots=True)
class NamespaceData:
    """A namespace's contents, in row order."""

    name: str
    ids: Sequence[str]
    texts: Sequence[str | None]
    metadata: Sequence[Mapping[str, Any]]
    vectors: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StoreData:
    """Everything a memory store persists."""

    dimension: int | None
    metric: str
    namespaces: Sequence[NamespaceData]


def encode_manifest(data: StoreData) -> bytes:
    """The JSON part, built on the caller's thread so later writes cannot change it."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "dimension": data.dimension,
        "metric": data.metric,
        "namespaces": [
            {
                "name": ns.name,
                "ids": list(ns.ids),
                "texts": list(ns.texts),
                "metadata": list(ns.metadata),
            }
            for ns in data.namespaces
        ],
    }
    try:
        return json.dumps(manifest, ensure_ascii=False, allow_nan=True).encode()
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"cannot save the memory store: metadata must be JSON-serialisable ({exc}); "
            "store plain strings, numbers, booleans and lists."
        ) from exc


def write_store(
    path: str | os.PathLike[str], manifest: bytes, vectors: Sequence[npt.NDArray[np.float32]]
) -> None:
    """Write atomically: temporary file, fsync, rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    arrays: dict[str, npt.NDArray[Any]] = {"manifest": np.frombuffer(manifest, dtype=np.uint8)}
    for i, matrix in enumerate(vectors):
        arrays[f"vectors_{i}"] = matrix
    try:
        with temporary.open("wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        raise StoreError(f"cannot save the memory store to {target}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def read_store(path: str | os.PathLike[str]) -> StoreData:
    """Read a file written by `write_store`; `StoreError` if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            manifest = json.loads(archive["manifest"].tobytes())
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise StoreError(f"{path} is not a devora memory vector store (version {VERSION}).")
            namespaces = [
                NamespaceData(
                    name=entry["name"],
                    ids=entry["ids"],
                    texts=entry["texts"],
                    metadata=entry["metadata"],
                    vectors=np.ascontiguousarray(archive[f"vectors_{i}"], dtype=np.float32),
                )
                for i, entry in enumerate(manifest["namespaces"])
            ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"cannot load the memory store from {path}: {exc}") from exc
    return StoreData(manifest["dimension"], manifest["metric"], namespaces)
