"""Bulk token encoders: quicktok and tiktoken give the same ids, surrogates included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.token_encoders import (
    QuicktokEncoder,
    TiktokenEncoder,
    TokenEncoder,
    token_encoder,
)
from ai.accounting.tokens import ModelEncoding, encoding_for_model

SRC = Path(__file__).resolve().parents[2] / "src"
MODELS = ["text-embedding-3-small", "gpt-4o"]  # cl100k and o200k

# Characters that move BPE pre-token boundaries: case changes, contractions, digit runs,
# whitespace runs before words and line breaks, marks, CJK, emoji, a special-token marker.
_TRICKY = [
    *" \n\n\r\t  aZzé\u0301ß'sS'LL0123456789.,;!?/-_#()[]{}中文한국😀👍🏽\u200b",
    "<|endoftext|>",
    "'re",
    "   ",
]
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(_TRICKY), max_size=60).map("".join),
)


def encoders(model: str) -> list[TokenEncoder]:
    model_encoding = encoding_for_model(model)
    return [token_encoder(model_encoding), TiktokenEncoder(model_encoding.encoding)]


def test_quicktok_serves_both_encodings() -> None:
    for model in MODELS:
        encoder = token_encoder(encoding_for_model(model))
        assert isinstance(encoder, QuicktokEncoder)
        assert encoder.name == encoding_for_model(model).name.value


@settings(max_examples=400, deadline=None)
@given(text=texts, model=st.sampled_from(MODELS))
def test_ids_and_counts_match_tiktoken(text: str, model: str) -> None:
    model_encoding = encoding_for_model(model)
    expected = model_encoding.encoding.encode_ordinary(text)
    for encoder in encoders(model):
        assert encoder.count(text) == len(expected)
        (ids,) = encoder.encode_many([text])
        assert ids.dtype == np.uint32
        assert ids.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(batch=st.lists(texts, max_size=12), model=st.sampled_from(MODELS))
def test_encode_many_keeps_each_text_apart_and_in_order(batch: list[str], model: str) -> None:
    reference = encoding_for_model(model).encoding
    for encoder in encoders(model):
        encoded = encoder.encode_many(batch)
        assert [ids.tolist() for ids in encoded] == [reference.encode_ordinary(t) for t in batch]


@pytest.mark.parametrize("model", MODELS)
def test_token_bytes_rebuild_the_text(model: str) -> None:
    text = "Ünïcödé façade — 日本語 🚀 <|endoftext|>\r\n\tend"
    for encoder in encoders(model):
        table = encoder.token_bytes()
        assert len(table) == encoding_for_model(model).encoding.max_token_value + 1
        (ids,) = encoder.encode_many([text])
        assert b"".join(table[token] for token in ids.tolist()) == text.encode("utf-8")


@pytest.mark.parametrize("model", MODELS)
def test_lone_surrogates_count_as_the_replacement_character(model: str) -> None:
    """UTF-8 cannot carry a lone surrogate; each one is encoded as U+FFFD, as tiktoken does."""
    broken, replaced = "ab\ud800cd \udfff!", "ab\ufffdcd \ufffd!"
    reference = encoding_for_model(model).encoding.encode_ordinary(replaced)
    for encoder in encoders(model):
        assert encoder.count(broken) == len(reference)
        encoded = encoder.encode_many(["clean", broken, "also clean"])
        assert encoded[1].tolist() == reference
        assert encoded[0].tolist() == encoding_for_model(model).encoding.encode_ordinary("clean")


def test_token_encoder_is_built_once_per_encoding() -> None:
    model_encoding = encoding_for_model("gpt-4o-mini")
    assert token_encoder(model_encoding) is token_encoder(encoding_for_model("gpt-4o"))
    other = ModelEncoding(model_encoding.name, model_encoding.encoding, estimated=True)
    assert token_encoder(other) is token_encoder(model_encoding)


_WITHOUT_QUICKTOK = """
import json, sys
sys.modules["quicktok"] = None  # as if the wheel were missing
from ai.rag.chunking import ChunkingConfig, chunk_text
from ai.accounting.token_encoders import token_encoder
from ai.accounting.tokens import encoding_for_model
encoder = token_encoder(encoding_for_model("text-embedding-3-small"))
config = ChunkingConfig(chunk_size=12, chunk_overlap=3)
chunks = chunk_text(sys.argv[1], source_id="doc", config=config)
print(json.dumps([type(encoder).__name__, [[c.start, c.end, c.token_count] for c in chunks]]))
"""


def test_without_quicktok_chunking_falls_back_to_tiktoken_with_the_same_chunks() -> None:
    from ai.rag.chunking import ChunkingConfig, chunk_text

    text = "Tokens are counted exactly. Ünïcödé too! \n\n" * 20 + "lone \ud800 end"
    config = ChunkingConfig(chunk_size=12, chunk_overlap=3)
    chunks = chunk_text(text, source_id="doc", config=config)
    expected = [[chunk.start, chunk.end, chunk.token_count] for chunk in chunks]
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_QUICKTOK, text.replace("\ud800", "\ufffd")],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    name, chunks = json.loads(result.stdout)
    assert name == "TiktokenEncoder"
    assert chunks == expected
