"""Lone surrogates become U+FFFD where text enters retrieval."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ai.rag.lone_surrogates import replace_lone_surrogates
from ai.rag.retriever import document_hash


@given(text=st.text(st.characters(codec=None)))
def test_any_text_becomes_utf8_of_the_same_length(text: str) -> None:
    cleaned = replace_lone_surrogates(text)
    assert len(cleaned) == len(text)
    cleaned.encode("utf-8")  # never raises
    for before, after in zip(text, cleaned, strict=True):
        assert after == ("\ufffd" if 0xD800 <= ord(before) <= 0xDFFF else before)
    assert document_hash(text) == document_hash(cleaned)


def test_json_lone_surrogate() -> None:
    text = json.loads('"caf\\ud800 menu"')
    assert replace_lone_surrogates(text) == "caf\ufffd menu"
    clean = "café menu 日本"
    assert replace_lone_surrogates(clean) is clean
