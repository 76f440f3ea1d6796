"""Chunking: the guarantees as properties over arbitrary text, then the behaviours by example."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.accounting.token_encoders import token_encoder
from ai.accounting.tokens import count_tokens, encoding_for_model
from ai.errors import ConfigurationError
from ai.rag.chunking import (
    DEFAULT_SEPARATORS,
    Chunk,
    Chunker,
    ChunkingConfig,
    ChunkUnit,
    chunk_documents,
    chunk_text,
)
from ai.rag.markdown_sections import MarkdownOutline

MODEL = "text-embedding-3-small"


def chars(size: int, overlap: int = 0, **options: Any) -> ChunkingConfig:
    return ChunkingConfig(chunk_size=size, chunk_overlap=overlap, unit="chars", **options)


def tokens(size: int, overlap: int = 0, **options: Any) -> ChunkingConfig:
    return ChunkingConfig(chunk_size=size, chunk_overlap=overlap, unit="tokens", **options)


def size_of(piece: str, config: ChunkingConfig) -> int:
    if config.unit is ChunkUnit.CHARS:
        return len(piece)
    return encoding_for_model(config.model).count(piece)


def in_fence_line(text: str, chunk: Chunk) -> bool:
    """The chunk is one line that lies inside a fenced code block."""
    fences = MarkdownOutline.parse(text).fences
    return "\n" not in chunk.text and any(s <= chunk.start and chunk.end <= e for s, e in fences)


def check_guarantees(text: str, chunks: list[Chunk], config: ChunkingConfig) -> None:
    """The four guarantees of `ai.rag.chunking`, checked from the outside."""
    covered_to = 0
    for position, chunk in enumerate(chunks):
        # offsets are exact, chunk text is trimmed the documented way
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.index == position
        assert chunk.text and chunk.text == chunk.text.rstrip()
        leading = chunk.text[: len(chunk.text) - len(chunk.text.lstrip())]
        if leading:
            assert "\n" not in leading
            assert chunk.start == 0 or text[chunk.start - 1] == "\n"
        # nothing lost: whatever no chunk covers is whitespace
        assert not text[covered_to : chunk.start].strip()
        covered_to = max(covered_to, chunk.end)
        # size
        size = size_of(chunk.text, config)
        if config.unit is ChunkUnit.TOKENS:
            assert chunk.token_count == size
        else:
            assert chunk.token_count is None
        if size > config.chunk_size:
            single_char = config.unit is ChunkUnit.TOKENS and len(chunk.text) == 1
            assert single_char or (config.markdown and in_fence_line(text, chunk)), chunk
    assert not text[covered_to:].strip()
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        if config.chunk_overlap == 0:
            assert after.start >= before.end
        elif after.start < before.end:
            assert size_of(text[after.start : before.end], config) <= config.chunk_overlap


# --- text generators ------------------------------------------------------------------------

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=12,
)
spaces = st.sampled_from([" ", " ", " ", "  ", "\t", "\u3000", "\xa0"])
punctuation = st.sampled_from(["", "", ".", ",", "!", "?", "。", '."', "…", ":"])


@st.composite
def prose(draw: st.DrawFn) -> str:
    parts = []
    for word in draw(st.lists(words, min_size=1, max_size=40)):
        parts.append(word + draw(punctuation) + draw(spaces))
    return "".join(parts).rstrip(" ")


@st.composite
def code_lines(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        indent = " " * draw(st.sampled_from([0, 0, 4, 8]))
        body = draw(st.text(alphabet="abcxyz_()[]{}=+-*/#.:,'\" 0123456789", max_size=60))
        lines.append(indent + body)
    return "\n".join(lines)


@st.composite
def fence(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["```", "~~~", "````"]))
    info = draw(st.sampled_from(["", "python", " js"]))
    closed = draw(st.booleans()) or draw(st.booleans())
    return f"{marker}{info}\n{draw(code_lines())}" + (f"\n{marker}" if closed else "")


@st.composite
def heading(draw: st.DrawFn) -> str:
    level = draw(st.integers(1, 6))
    title = draw(st.text(alphabet="Install Redis Usage API 1.2 é", min_size=0, max_size=20))
    return f"{'#' * level} {title}".rstrip() + draw(st.sampled_from(["", " #", " ##"]))


blocks = st.one_of(prose(), fence(), heading(), code_lines(), st.just(""), st.just("   "))
separators_between = st.sampled_from(["\n\n", "\n", "\n\n\n", "\r\n\r\n", "\n \n", " "])


@st.composite
def markdown_documents(draw: st.DrawFn) -> str:
    parts = draw(st.lists(blocks, max_size=12))
    glue = [draw(separators_between) for _ in parts]
    return "".join(part + sep for part, sep in zip(parts, glue, strict=True))


any_text = st.one_of(st.text(max_size=400), markdown_documents(), code_lines(), prose())


@st.composite
def char_configs(draw: st.DrawFn) -> ChunkingConfig:
    size = draw(st.integers(1, 120))
    overlap = draw(st.one_of(st.just(0), st.integers(0, size - 1)))
    return chars(size, overlap, markdown=draw(st.booleans()), section_level=draw(st.integers(0, 6)))


@st.composite
def token_configs(draw: st.DrawFn) -> ChunkingConfig:
    size = draw(st.integers(1, 40))
    overlap = draw(st.one_of(st.just(0), st.integers(0, size - 1)))
    model = draw(st.sampled_from([MODEL, "gpt-4o"]))
    return tokens(size, overlap, markdown=draw(st.booleans()), model=model)


PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- guarantees as properties ---------------------------------------------------------------


@PROPERTY
@given(text=any_text, config=char_configs())
def test_guarantees_hold_in_characters(text: str, config: ChunkingConfig) -> None:
    chunks = chunk_text(text, source_id="doc", config=config)
    check_guarantees(text, chunks, config)
    assert chunk_text(text, source_id="doc", config=config) == chunks  # deterministic


@PROPERTY
@given(text=any_text, config=token_configs())
def test_guarantees_hold_in_tokens(text: str, config: ChunkingConfig) -> None:
    chunks = chunk_text(text, source_id="doc", config=config)
    check_guarantees(text, chunks, config)
    assert chunk_text(text, source_id="doc", config=config) == chunks


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), size=st.integers(1, 80))
def test_without_overlap_the_chunks_and_the_whitespace_between_them_rebuild_the_text(
    text: str, size: int
) -> None:
    chunks = chunk_text(text, source_id="doc", config=chars(size, markdown=False))
    rebuilt, position = [], 0
    for chunk in chunks:
        rebuilt += [text[position : chunk.start], chunk.text]
        position = chunk.end
    rebuilt.append(text[position:])
    assert "".join(rebuilt) == text
    assert all(not gap.strip() for gap in rebuilt[::2])


@settings(max_examples=100, deadline=None)
@given(text=markdown_documents(), size=st.integers(5, 60))
def test_fenced_code_is_only_cut_at_line_boundaries(text: str, size: int) -> None:
    chunks = chunk_text(text, source_id="doc", config=chars(size, size // 3))
    for start, end in MarkdownOutline.parse(text).fences:
        for chunk in chunks:
            for edge in (chunk.start, chunk.end):
                if start < edge < end:  # only whitespace between edge and line start/end
                    line_start = text.rfind("\n", 0, edge) + 1
                    line_end = text.find("\n", edge) % (len(text) + 1)
                    before, after = text[line_start:edge], text[edge:line_end]
                    assert not before.strip() or not after.strip()


# --- separators ----------------------------------------------------------------------------


def test_paragraphs_are_packed_and_cut_at_blank_lines() -> None:
    text = "Alpha one.\n\nBeta two.\n\nGamma three is longer."
    chunks = chunk_text(text, source_id="d", config=chars(25, markdown=False))
    assert [c.text for c in chunks] == ["Alpha one.\n\nBeta two.", "Gamma three is longer."]
    assert [(c.start, c.end) for c in chunks] == [(0, 21), (23, 45)]


def test_sentences_keep_their_punctuation() -> None:
    text = "First sentence here. Second one follows! Third? Fourth ends."
    chunks = chunk_text(text, source_id="d", config=chars(30, markdown=False))
    assert [c.text for c in chunks] == [
        "First sentence here.",
        "Second one follows! Third?",
        "Fourth ends.",
    ]


def test_words_then_hard_splits_when_nothing_else_fits() -> None:
    text = "tiny " + "x" * 25 + " end"
    chunks = chunk_text(text, source_id="d", config=chars(10, markdown=False))
    assert [c.text for c in chunks] == ["tiny", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx end"]


def test_lines_before_sentences_and_cjk_full_stops() -> None:
    text = "第一句。第二句。第三句。\nnext line"
    chunks = chunk_text(text, source_id="d", config=chars(9, markdown=False))
    assert [c.text for c in chunks] == ["第一句。第二句。", "第三句。", "next line"]


def test_custom_literal_separators_like_langchain() -> None:
    config = chars(10, separators=["\n\n", "\n", " "], markdown=False)
    chunks = chunk_text("aaa bbb. ccc ddd\neee", source_id="d", config=config)
    assert [c.text for c in chunks] == ["aaa bbb.", "ccc ddd", "eee"]


def test_regex_separators_with_inline_flags_still_work() -> None:
    config = chars(10, separators=[re.compile(r"(?i)\bAND\b\s*")], markdown=False)
    chunks = chunk_text("cats and dogs AND birds", source_id="d", config=config)
    assert [c.text for c in chunks] == ["cats and", "dogs AND", "birds"]


def test_crlf_text_keeps_exact_offsets() -> None:
    text = "Line one.\r\n\r\nLine two is here.\r\nLine three."
    chunks = chunk_text(text, source_id="d", config=chars(20, markdown=False))
    assert [c.text for c in chunks] == ["Line one.", "Line two is here.", "Line three."]
    check_guarantees(text, chunks, chars(20, markdown=False))


def test_indentation_of_a_first_line_is_kept() -> None:
    text = "intro\n\n    indented code line\n    second"
    chunks = chunk_text(text, source_id="d", config=chars(35, markdown=False))
    assert chunks[1].text == "    indented code line\n    second"


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_and_blank_texts_give_no_chunks(text: str) -> None:
    assert chunk_text(text, source_id="d", config=chars(10)) == []
    assert chunk_text(text, source_id="d") == []


# --- overlap -------------------------------------------------------------------------------


def test_overlap_starts_at_a_sentence_within_the_budget() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    chunks = chunk_text(text, source_id="d", config=chars(32, 16, markdown=False))
    assert [c.text for c in chunks] == [
        "One two three. Four five six.",
        "Four five six. Seven eight nine.",
        "eight nine. Ten eleven twelve.",  # no sentence starts within 16 chars: a word does
    ]
    check_guarantees(text, chunks, chars(32, 16, markdown=False))


def test_overlap_never_reaches_back_across_a_heading() -> None:
    text = "# Doc\n\n### A\n\naaa aaa aaa.\n\n### B\n\nbbb bbb bbb bbb bbb."
    chunks = chunk_text(text, source_id="d", config=chars(30, 20, section_level=1))
    b_chunks = [c for c in chunks if "bbb" in c.text]
    assert b_chunks[0].text.startswith("### B")
    assert b_chunks[0].metadata["headings"] == ["Doc", "B"]


# --- Markdown ------------------------------------------------------------------------------

GUIDE = """# Guide

Welcome.

## Install

Use pip.

### Redis

Start redis-server first.

```bash
# not a heading
redis-server --port 6379
```

## Usage

Call it.
"""


def test_headings_path_goes_into_metadata_and_sections_start_new_chunks() -> None:
    chunks = chunk_text(GUIDE, source_id="guide", metadata={"lang": "en"}, config=chars(400))
    assert [(c.text.split("\n")[0], c.metadata) for c in chunks] == [
        ("# Guide", {"lang": "en", "headings": ["Guide"]}),
        ("## Install", {"lang": "en", "headings": ["Guide", "Install"]}),
        ("## Usage", {"lang": "en", "headings": ["Guide", "Usage"]}),
    ]
    assert "# not a heading" in chunks[1].text


def test_deeper_headings_are_preferred_cut_points() -> None:
    chunks = chunk_text(GUIDE, source_id="guide", config=chars(80))
    redis = next(c for c in chunks if "redis-server first" in c.text)
    assert redis.text.startswith("### Redis")
    assert redis.metadata["headings"] == ["Guide", "Install", "Redis"]


def test_section_level_zero_packs_across_sections() -> None:
    chunks = chunk_text(GUIDE, source_id="guide", config=chars(400, section_level=0))
    assert len(chunks) == 1 and chunks[0].metadata["headings"] == ["Guide"]


def test_markdown_off_ignores_headings() -> None:
    chunks = chunk_text(GUIDE, source_id="guide", config=chars(400, markdown=False))
    assert len(chunks) == 1 and chunks[0].metadata == {"headings": []}


def test_a_long_fence_is_split_only_at_line_ends() -> None:
    code = "\n".join(f"    value_{i} = compute({i}, {i * 2})" for i in range(30))
    text = f"Intro.\n\n```python\n{code}\n```\n\nOutro."
    chunks = chunk_text(text, source_id="d", config=chars(120, 30))
    check_guarantees(text, chunks, chars(120, 30))
    for chunk in chunks:
        assert all(
            line.startswith(("    value_", "```", "Intro", "Outro"))
            for line in chunk.text.splitlines()
            if line
        )
        assert chunk.end == len(text) or text[chunk.end] == "\n"


def test_a_code_line_longer_than_the_limit_stays_whole() -> None:
    long_line = "x = '" + "y" * 80 + "'"
    text = f"~~~\nshort()\n{long_line}\nafter()\n~~~"
    chunks = chunk_text(text, source_id="d", config=chars(30, 10))
    assert long_line in [c.text for c in chunks]
    check_guarantees(text, chunks, chars(30, 10))


def test_outline_parses_closing_hashes_unclosed_fences_and_ignores_hashtags() -> None:
    outline = MarkdownOutline.parse("#tag\n# Title ##\n## \n### Sub\n```\n# code\n")
    assert [(h.level, h.title) for h in outline.headings] == [(1, "Title"), (2, ""), (3, "Sub")]
    assert outline.paths[-1] == ("Title", "Sub")
    assert outline.fences == ((28, 39),)


# --- tokens --------------------------------------------------------------------------------


def test_token_mode_counts_exactly_with_the_models_encoding() -> None:
    text = " ".join(f"Sentence number {i} talks about retrieval." for i in range(200))
    for model in (MODEL, "gpt-4o"):
        config = tokens(64, 8, model=model)
        chunks = chunk_text(text, source_id="d", config=config)
        assert len(chunks) > 10
        assert all(c.token_count == count_tokens(c.text, model).tokens for c in chunks)
        assert all(c.token_count is not None and c.token_count <= 64 for c in chunks)
        assert max(c.token_count or 0 for c in chunks) >= 56  # chunks are well filled
        check_guarantees(text, chunks, config)


def test_token_mode_handles_digit_runs_and_emoji_at_tiny_sizes() -> None:
    text = "1234567890" * 30 + " 🚀🎉👩‍👩‍👧 " * 5
    for size in (1, 2, 3, 7):
        config = tokens(size, markdown=False)
        check_guarantees(text, chunk_text(text, source_id="d", config=config), config)


def test_default_config_is_512_tokens_with_64_overlap_markdown_aware() -> None:
    config = ChunkingConfig()
    assert (config.chunk_size, config.chunk_overlap, config.unit) == (512, 64, ChunkUnit.TOKENS)
    assert config.markdown and config.separators == DEFAULT_SEPARATORS


# --- documents and configuration ------------------------------------------------------------


def test_chunk_documents_keeps_order_ids_and_metadata() -> None:
    docs = [
        {"id": "a", "text": "one. two. three.", "metadata": {"k": 1}},
        {"id": 7, "text": "four five six"},
    ]
    chunks = chunk_documents(docs, config=chars(9, markdown=False))
    assert [(c.source_id, c.index, c.text) for c in chunks] == [
        ("a", 0, "one. two."),
        ("a", 1, "three."),
        ("7", 0, "four five"),
        ("7", 1, "six"),
    ]
    assert chunks[0].metadata == {"k": 1, "headings": []}
    assert chunks[0].metadata is not chunks[1].metadata


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(any_text, max_size=8), config=st.one_of(char_configs(), token_configs()))
def test_chunk_documents_gives_each_document_what_chunk_gives_it(
    texts: list[str], config: ChunkingConfig
) -> None:
    """Documents encoded together in token mode chunk exactly as each one alone."""
    chunker = Chunker(config)
    docs = [{"id": f"d{i}", "text": text, "metadata": {"n": i}} for i, text in enumerate(texts)]
    alone = [
        chunk
        for d in docs
        for chunk in chunker.chunk(d["text"], source_id=d["id"], metadata=d["metadata"])
    ]
    assert chunker.chunk_documents(iter(docs)) == alone


def test_chunk_documents_in_token_mode_over_many_groups_and_a_long_document() -> None:
    """More documents than one encoding group, and one long enough to be encoded in blocks."""
    long_text = "Ünïcödé prose, with a lone \ud800 surrogate.\n\n" * 4_000  # > 2 x 64k chars
    texts = [f"  Document {i}: short. {'word ' * (i % 90)}\n" for i in range(600)]
    texts.insert(300, long_text)
    chunker = Chunker(tokens(64, 8))
    docs = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    together = chunker.chunk_documents(docs)
    assert together == [c for d in docs for c in chunker.chunk(d["text"], source_id=d["id"])]
    counter = encoding_for_model(MODEL)
    for chunk in together[::37]:
        assert chunk.token_count == counter.count(chunk.text.replace("\ud800", "\ufffd"))
    assert {chunk.source_id for chunk in together} == {d["id"] for d in docs}


@pytest.mark.parametrize("doc", [{"text": "x"}, {"id": "", "text": "x"}, {"id": "a", "text": 3}])
def test_chunk_documents_rejects_malformed_documents(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="needs a non-empty 'id'"):
        Chunker(chars(10)).chunk_documents([doc])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 10, "chunk_overlap": 10}, "chunk_overlap"),
        ({"chunk_overlap": -1}, "chunk_overlap"),
        ({"unit": "words"}, "unknown chunking unit"),
        ({"separators": ["\n", ""]}, "separator"),
        ({"separators": [re.compile(r"\s*")]}, "separator"),
        ({"separators": [re.compile(b"x")]}, "separator"),
        ({"separators": [3]}, "separator"),
        ({"section_level": 7}, "section_level"),
        ({"chunk_size": True}, "chunk_size"),
    ],
)
def test_config_is_validated_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ChunkingConfig(**options)


def test_misspelt_options_are_errors() -> None:
    with pytest.raises(TypeError):
        ChunkingConfig(chunk_overlapp=3)  # type: ignore[call-arg]


def test_configs_are_hashable_values_and_accept_lists() -> None:
    config = chars(10, separators=["\n", " "])
    assert config.separators == ("\n", " ")
    assert config == chars(10, separators=("\n", " ")) and hash(config)


def test_a_title_stays_with_the_section_under_it() -> None:
    text = "# Title\n\n## Install\n\nUse pip.\n\n## Usage\n\nCall it.\n\n   ### Indented\n"
    chunks = chunk_text(text, source_id="d", config=chars(200))
    assert [(c.text, c.metadata["headings"]) for c in chunks] == [
        ("# Title\n\n## Install\n\nUse pip.", ["Title", "Install"]),
        ("## Usage\n\nCall it.\n\n   ### Indented", ["Title", "Usage"]),
    ]


def test_a_chunk_of_only_headings_belongs_to_its_last_heading() -> None:
    text = "## A\n\ntext\n\n## B\n  ### C"
    chunks = chunk_text(text, source_id="d", config=chars(200))
    assert [(c.text, c.metadata["headings"]) for c in chunks] == [
        ("## A\n\ntext", ["A"]),
        ("## B\n  ### C", ["B", "C"]),
    ]
    outline = MarkdownOutline.parse(text)
    assert outline.content_starts == (6, len(text), len(text))


@pytest.mark.parametrize("model", [MODEL, "gpt-4o"])
def test_exact_span_counts_match_a_fresh_encoding_of_every_span(model: str) -> None:
    from ai.rag.chunk_sizing import TokenSizer

    text = "a.\n/b 12345\n\n  x\n\ty = 1  # c\n!!\n\nÉté 🚀\n/\n.\nz"
    encoding = encoding_for_model(model)
    sizer = TokenSizer(text, token_encoder(encoding))
    for start in range(len(text)):
        for end in range(start, len(text) + 1):
            assert sizer.count(start, end) == encoding.count(text[start:end]), (start, end)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=" \n\t/.,!?'\"()aZé\u0301ß12🚀漢\u00a0_-#\ud83d", max_size=60),
    model=st.sampled_from([MODEL, "gpt-4o"]),
    data=st.data(),
)
def test_exact_span_counts_hold_for_any_span(text: str, model: str, data: st.DataObject) -> None:
    from ai.rag.chunk_sizing import TokenSizer

    encoding = encoding_for_model(model)
    sizer = TokenSizer(text, token_encoder(encoding))
    for _ in range(10):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        assert sizer.count(start, end) == encoding.count(text[start:end])
