"""BM25 keyword search: stemming, stop words, languages, filters."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ai.errors import ConfigurationError
from ai.rag.filters import parse_filter
from ai.rag.keyword_index import BM25Config, KeywordIndex

DOCS = {
    "run": "She was running along the river every morning.",
    "cook": "Cooking pasta needs salted boiling water.",
    "river": "The river floods in spring.",
    "stop": "The of and a to in is it.",
}


def index(config: BM25Config | None = None) -> KeywordIndex:
    keywords = KeywordIndex(config)
    for id, text in DOCS.items():
        keywords.add(id, text, {"source_id": id, "lang": "en"})
    return keywords


def found(keywords: KeywordIndex, query: str) -> list[str]:
    return [hit.id for hit in keywords.search(query, 10)]


def test_stemming_finds_running_for_runs() -> None:
    assert found(index(), "runs") == ["run"]
    assert found(index(), "cooks")[0] == "cook"
    assert found(index(), "flooding rivers")[0] == "river"


def test_stemming_can_be_turned_off() -> None:
    plain = index(BM25Config(stemming=False))
    assert found(plain, "runs") == []
    assert found(plain, "running") == ["run"]


def test_stop_words_are_ignored() -> None:
    assert found(index(), "the of and") == []
    # "the" does not pull the stop-word document up: only "river" counts
    assert set(found(index(), "the river")) == {"river", "run"}
    with_stop_words = index(BM25Config(stopwords=False))
    assert "stop" in found(with_stop_words, "the river")


def test_own_stop_words_and_terms() -> None:
    keywords = index(BM25Config(stopwords=("river",)))
    assert keywords.tokens("The river was running") == ["the", "was", "run"]
    assert found(keywords, "river") == []


def test_other_languages() -> None:
    german = KeywordIndex(BM25Config(language="german"))
    german.add("a", "Die Kinder spielten im Garten.", {})
    german.add("b", "Der Hund schläft.", {})
    assert [hit.id for hit in german.search("Kind spielt", 5)] == ["a"]
    assert german.tokens("die Gärten") == ["gart"]  # "die" is a German stop word
    arabic = BM25Config(language="arabic")
    assert arabic.stopword_list() == []  # bm25s has no Arabic list: none dropped


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="Snowball"):
        BM25Config(language="klingon")
    assert BM25Config(language="klingon", stemming=False).stemmer() is None
    with pytest.raises(ConfigurationError, match="k1"):
        BM25Config(b=2.0)
    with pytest.raises(ConfigurationError, match="stopwords"):
        BM25Config(stopwords=(1, 2))  # type: ignore[arg-type]


def test_filters_and_removal() -> None:
    keywords = index()
    keywords.add("run2", "Running shoes for the river path.", {"source_id": "x", "lang": "fr"})
    assert set(found(keywords, "run")) == {"run", "run2"}
    only_fr = keywords.search("run", 10, parse_filter({"lang": "fr"}))
    assert [hit.id for hit in only_fr] == ["run2"]
    keywords.remove(["run2"])
    assert found(keywords, "run") == ["run"]


@settings(max_examples=150, deadline=None)
@given(query=st.text(max_size=40))
@example(query="the of")
@example(query="???")
@example(query="")
def test_any_query_scores_every_known_chunk(query: str) -> None:
    """A query with no terms left (stop words, punctuation, nothing) scores 0 everywhere
    instead of failing inside bm25s: hybrid search then keeps its vector results."""
    keywords = index()
    scores = keywords.scores_for(query, [*DOCS, "unknown"])
    assert set(scores) == set(DOCS) and all(score >= 0 for score in scores.values())
    hits = keywords.search(query, 10)
    if not keywords.tokens(query):
        assert set(scores.values()) == {0.0} and hits == []
    assert {hit.id for hit in hits} == {id for id, score in scores.items() if score > 0}
