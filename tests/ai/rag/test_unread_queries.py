"""Queries the embedding model cannot read: found by its own tokenizer, answered in hybrid
mode from the keyword list."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.rag import ContextRetriever, EmbeddingService, VectorStore, VectorStoreConfig
from ai.rag.chunk_limits import InputLimit, hf_token_counter, input_limit_of
from tests.ai.rag.ingest_fakes import LimitedEmbedder

pytest.importorskip("tokenizers")

ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
ENGLISH_WORDS = st.sampled_from(
    ["capital", "france", "river", "longest", "school", "design", "founded", "report"]
)


@pytest.fixture(scope="module")
def minilm() -> InputLimit:
    limit = input_limit_of(EmbeddingService.local())
    if limit is None or limit.tokenizer is None:
        pytest.skip("the packaged all-MiniLM-L6-v2 is not installed")
    return limit


def whole_words(minilm: InputLimit) -> list[str]:
    """Lower-case words of three or more letters that the vocabulary holds whole."""
    assert minilm.tokenizer is not None
    vocab = Path(minilm.tokenizer).with_name("vocab.txt").read_text(encoding="utf-8").split()
    return [w for w in vocab if len(w) >= 3 and w.isascii() and w.isalpha() and w.islower()]


def test_english_is_read_and_arabic_or_unknown_script_is_not(minilm: InputLimit) -> None:
    assert minilm.reads("What is the capital of France?")
    assert minilm.reads("Wer hat die Bauhaus-Schule gegründet?")  # German: words in pieces
    assert not minilm.reads("ما هي عاصمة فرنسا؟")
    assert not minilm.reads("最长的河流是哪条")  # unknown characters
    assert minilm.reads("")  # nothing to judge


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_words_the_vocabulary_holds_are_never_spelled_out(
    minilm: InputLimit, data: st.DataObject
) -> None:
    words = data.draw(st.lists(st.sampled_from(whole_words(minilm)), min_size=1, max_size=12))
    assert minilm.tokenizer is not None
    counter = hf_token_counter(minilm.tokenizer)
    assert counter.spelled_out_share(" ".join(words)) == 0.0


@settings(max_examples=50, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet=ARABIC_LETTERS, min_size=3, max_size=9), min_size=1, max_size=8
    ),
    english=st.lists(ENGLISH_WORDS, max_size=3),
)
def test_arabic_words_are_spelled_out_around_a_few_english_ones(
    minilm: InputLimit, words: list[str], english: list[str]
) -> None:
    """Arabic letters are in the vocabulary one by one, so an Arabic word falls apart into
    them; a query stays unread while its Arabic outweighs its English."""
    assert minilm.tokenizer is not None
    counter = hf_token_counter(minilm.tokenizer)
    assert counter.spelled_out_share(" ".join(words)) > 0.9
    mixed = " ".join(words + english)
    arabic_share = sum(map(len, words)) / (sum(map(len, words)) + sum(map(len, english)))
    if arabic_share > 0.75:
        assert not minilm.reads(mixed)


def test_a_model_without_a_tokenizer_file_is_trusted() -> None:
    openai = InputLimit("text-embedding-3-small", 8191, encoding_model="text-embedding-3-small")
    assert openai.reads("ما هي عاصمة فرنسا؟")


ARABIC_DOCS = [
    {"id": "paris", "text": "باريس هي عاصمة فرنسا وأكبر مدنها"},
    {"id": "nile", "text": "نهر النيل أطول نهر في أفريقيا"},
    {"id": "cairo", "text": "القاهرة عاصمة مصر وتقع على نهر النيل"},
    {"id": "rome", "text": "روما عاصمة إيطاليا"},
]
ARABIC_DOCS += [
    {"id": f"noise{i}", "text": f"document number {i} about nothing in particular"}
    for i in range(8)
]


async def retriever(limit: InputLimit) -> ContextRetriever:
    found = ContextRetriever(LimitedEmbedder(limit), VectorStore(VectorStoreConfig()), bm25=None)
    await found.add_documents(ARABIC_DOCS)
    return found


async def test_hybrid_answers_an_unread_query_from_the_keyword_list(minilm: InputLimit) -> None:
    search = await retriever(minilm)
    query = "ما هو أطول نهر"
    keyword = await search.retrieve(query, top_k=5, mode="bm25")
    hybrid = await search.retrieve(query, top_k=5, mode="hybrid")
    assert keyword and [c.id for c in hybrid] == [c.id for c in keyword]
    assert all(0 <= c.score <= 1 for c in hybrid)
    search.keyword_only_when_unread = False
    both = await search.retrieve(query, top_k=5, mode="hybrid")
    assert len(both) == 5 > len(keyword)  # the noise vectors' picks are back in


async def test_an_unread_query_no_keyword_matches_still_gets_the_vector_list(
    minilm: InputLimit,
) -> None:
    search = await retriever(minilm)
    hybrid = await search.retrieve("ثعلب غزال", top_k=3, mode="hybrid")
    vector = await search.retrieve("ثعلب غزال", top_k=3, mode="vector")
    assert [c.id for c in hybrid] == [c.id for c in vector] and len(hybrid) == 3


async def test_a_read_query_fuses_both_lists(minilm: InputLimit) -> None:
    search = await retriever(minilm)
    hybrid = await search.retrieve("document number about particular", top_k=10)
    search.keyword_only_when_unread = False
    assert [c.id for c in await search.retrieve("document number about particular", top_k=10)] == [
        c.id for c in hybrid
    ]
