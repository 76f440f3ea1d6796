"""Split documents into chunks for embedding: recursive, Markdown-aware, offset-exact.

A chunk is always an exact slice of its source text (``text[c.start:c.end] == c.text``),
so a retrieved chunk can be highlighted in, or expanded from, the original. Chunks are cut
at the strongest boundary that fits the size limit: a Markdown section start, a blank
line, a line end, a sentence end, a space, and only when none of these fits, anywhere
(never inside a line of fenced code). Whitespace between chunks belongs to no chunk.

Sizes are counted in tokens (the encoding of `model`, offline; see `ai.accounting.token_encoders`)
or characters. The splitter works on offsets: it searches each chunk's window once per
separator level with C-level string and regex searches, and never builds lists of every
piece.

Guarantees, for any text (property-tested in ``tests/ai/rag/test_chunking.py``):

1. Offsets: ``text[c.start:c.end] == c.text`` for every chunk; chunks are in order, and
   each starts after the previous one starts and ends after it ends.
2. Nothing lost: every character outside all chunks is whitespace. With
   ``chunk_overlap=0`` chunks do not overlap; otherwise two consecutive chunks share at
   most ``chunk_overlap`` units.
3. Size: no chunk exceeds ``chunk_size`` units, except a single line inside a fenced code
   block (code lines are never split) or, in token mode, a single character that alone
   encodes to more than ``chunk_size`` tokens.
4. Deterministic: the same text and configuration give the same chunks.

A chunk's text has no trailing whitespace and does not start with a blank line; it keeps
the indentation of its first line when it starts at the start of a line.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ai.accounting.token_encoders import TokenEncoder, TokenIds, token_encoder
from ai.accounting.tokens import encoding_for_model
from ai.errors import ConfigurationError
from ai.rag.chunk_limits import HFTokenCounter, InputLimit, hf_token_counter
from ai.rag.chunk_sizing import (
    CharSizer,
    CountingSizer,
    IntArray,
    Sizer,
    TokenSizer,
    encode_texts,
)
from ai.rag.chunk_splitter import Splitter
from ai.rag.markdown_sections import MarkdownOutline
from ai.rag.separators import DEFAULT_SEPARATORS, compile_separator

__all__ = [
    "DEFAULT_SEPARATORS",
    "Chunk",
    "ChunkUnit",
    "Chunker",
    "ChunkingConfig",
    "chunk_documents",
    "chunk_text",
]


_GROUP = 256
"""Documents encoded together in token mode: enough to keep every core busy, few enough
that a long stream of documents is never held in memory as tokens all at once."""


class ChunkUnit(StrEnum):
    """What `chunk_size` and `chunk_overlap` count."""

    TOKENS = "tokens"
    CHARS = "chars"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a source text: its exact slice, where it sits, and what it is about.

    `metadata` holds the metadata passed in plus ``headings``, the Markdown heading path in
    effect where the chunk's content starts (e.g. ``["Install", "Redis"]``; a chunk that
    opens with heading lines is under the last of them; empty without headings).
    `token_count` is the exact token count in token mode, None in character mode.
    """

    text: str
    source_id: str
    index: int
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)
    token_count: int | None = None


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    """How to split, validated when built.

    - `chunk_size`, `chunk_overlap` (``0 <= overlap < size``) in `unit`: tokens of `model`'s
      encoding (default model ``text-embedding-3-small``, i.e. cl100k), tokens of the
      Hugging Face `tokenizer` file when one is given (a local embedding model's own
      ``tokenizer.json``), or characters. `ChunkingConfig.fitting(limit)` sizes chunks to
      what an embedding model reads.
    - `separators`, strongest first: a plain string is literal text, a compiled pattern a
      regular expression; a cut goes just after the separator. A hard split (anywhere)
      always comes last. Default: blank lines, newline, sentence ends, whitespace.
    - `markdown`: recognise ATX headings and fenced code blocks. Headings go into each
      chunk's metadata; a heading of level ``<= section_level`` always starts a new chunk
      (0: never), and deeper headings are the preferred cut points. Code lines inside
      fences are never split.
    """

    chunk_size: int = 512
    chunk_overlap: int = 64
    unit: ChunkUnit = ChunkUnit.TOKENS
    model: str = "text-embedding-3-small"
    separators: tuple[str | re.Pattern[str], ...] = DEFAULT_SEPARATORS
    markdown: bool = True
    section_level: int = 2
    tokenizer: str | None = None

    @classmethod
    def fitting(cls, limit: InputLimit, **options: Any) -> ChunkingConfig:
        """Chunks as large as the model reads (`limit.content_tokens`, counted in its own
        tokens), overlapping by an eighth (at most 64 tokens); `options` set the rest."""
        counting: dict[str, Any] = (
            {"tokenizer": limit.tokenizer}
            if limit.tokenizer is not None
            else {"model": limit.encoding_model}
        )
        return cls(
            chunk_size=limit.content_tokens,
            chunk_overlap=limit.default_overlap,
            **counting,
            **options,
        )

    def counts_like(self, limit: InputLimit) -> bool:
        """Whether this configuration counts in `limit`'s tokens."""
        if self.unit is not ChunkUnit.TOKENS:
            return False
        if limit.tokenizer is not None or self.tokenizer is not None:
            return self.tokenizer == limit.tokenizer
        return encoding_for_model(self.model).name == encoding_for_model(limit.encoding_model).name

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "unit", ChunkUnit(self.unit))
        except ValueError:
            raise ConfigurationError(
                f"unknown chunking unit {self.unit!r}: use 'tokens' or 'chars'."
            ) from None
        object.__setattr__(self, "separators", tuple(self.separators))
        if not _is_int(self.chunk_size) or self.chunk_size < 1:
            raise ConfigurationError(
                f"chunk_size must be a positive integer, got {self.chunk_size!r}."
            )
        if not _is_int(self.chunk_overlap) or not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigurationError(
                f"chunk_overlap must be an integer from 0 to chunk_size - 1 "
                f"({self.chunk_size - 1}), got {self.chunk_overlap!r}."
            )
        if not _is_int(self.section_level) or not 0 <= self.section_level <= 6:
            raise ConfigurationError(
                f"section_level must be 0 (no forced breaks) to 6, got {self.section_level!r}."
            )
        for separator in self.separators:
            if not _is_separator(separator):
                raise ConfigurationError(
                    f"separator {separator!r} must be a non-empty string or a compiled "
                    "str regular expression (re.compile(...)) that cannot match ''."
                )
        if not isinstance(self.model, str) or not self.model:
            raise ConfigurationError("model must name the model whose tokenizer counts tokens.")
        if self.tokenizer is not None and (
            not isinstance(self.tokenizer, str) or self.unit is not ChunkUnit.TOKENS
        ):
            raise ConfigurationError(
                "tokenizer must be the path of a tokenizer.json, with unit='tokens'."
            )


class Chunker:
    """Splits texts with one validated configuration; reuse it for many documents."""

    def __init__(self, config: ChunkingConfig | None = None) -> None:
        self.config = config or ChunkingConfig()
        self._separators = [compile_separator(s) for s in self.config.separators]
        self._counter: HFTokenCounter | None = None
        self._encoder: TokenEncoder | None = None
        if self.config.tokenizer is not None:
            self._counter = _counter_for(self.config.tokenizer)
        elif self.config.unit is ChunkUnit.TOKENS:
            self._encoder = token_encoder(encoding_for_model(self.config.model))

    def chunk(
        self, text: str, *, source_id: str, metadata: Mapping[str, Any] | None = None
    ) -> list[Chunk]:
        """Chunks of `text`, in order, each tagged with `source_id` and `metadata`."""
        return self._chunk(text, source_id, metadata, None, None)

    def chunk_documents(self, documents: Iterable[Mapping[str, Any]]) -> list[Chunk]:
        """Chunks of many documents (``{"id", "text", "metadata"?}``), in document order.

        In token mode the documents are encoded in parallel groups before they are split."""
        checked = (_checked(position, document) for position, document in enumerate(documents))
        chunks: list[Chunk] = []
        while group := list(itertools.islice(checked, _GROUP)):
            texts = [text for _, text, _ in group]
            known: list[TokenIds | None] = (
                [None] * len(group) if self._encoder is None else encode_texts(texts, self._encoder)
            )
            starts: list[IntArray | None] = [None] * len(group)
            if self._counter is not None:
                starts = list(self._counter.starts_many(texts))
            for (source_id, text, metadata), ids, offsets in zip(group, known, starts, strict=True):
                chunks.extend(self._chunk(text, source_id, metadata, ids, offsets))
        return chunks

    def _chunk(
        self,
        text: str,
        source_id: str,
        metadata: Mapping[str, Any] | None,
        ids: TokenIds | None,
        starts: IntArray | None,
    ) -> list[Chunk]:
        config = self.config
        outline = MarkdownOutline.parse(text) if config.markdown else None
        sizer = self._sizer(text, ids, starts)
        splitter = Splitter(
            text,
            size=config.chunk_size,
            overlap=config.chunk_overlap,
            separators=self._separators,
            sizer=sizer,
            outline=outline,
            section_level=config.section_level,
        )
        base = dict(metadata or {})
        if outline is None or not outline.headings:
            return [
                _new_chunk(body, source_id, index, start, end, {**base, "headings": []}, count)
                for index, (start, end, body, count) in enumerate(splitter.spans())
            ]
        return [
            _new_chunk(
                body,
                source_id,
                index,
                start,
                end,
                {**base, "headings": outline.content_path(start, end)},
                count,
            )
            for index, (start, end, body, count) in enumerate(splitter.spans())
        ]

    def _sizer(self, text: str, ids: TokenIds | None, starts: IntArray | None) -> Sizer:
        if self._counter is not None:
            if starts is None:
                [starts] = self._counter.starts_many([text])
            return CountingSizer(text, starts, self._counter.count)
        if self._encoder is not None:
            return TokenSizer(text, self._encoder, ids)
        return CharSizer()


def _counter_for(path: str) -> HFTokenCounter:
    try:
        return hf_token_counter(path)
    except Exception as error:  # the tokenizers library raises its own exception types
        if isinstance(error, ImportError):
            raise
        raise ConfigurationError(f"cannot read the tokenizer {path!r}: {error}") from error


def _checked(position: int, document: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(id, text, metadata) of one input document, or a `ConfigurationError` naming it."""
    source_id, text = document.get("id"), document.get("text")
    if source_id is None or str(source_id) == "" or not isinstance(text, str):
        raise ConfigurationError(f"document {position} needs a non-empty 'id' and a string 'text'.")
    return str(source_id), text, document.get("metadata")


def chunk_text(
    text: str,
    *,
    source_id: str,
    metadata: Mapping[str, Any] | None = None,
    config: ChunkingConfig | None = None,
) -> list[Chunk]:
    """Chunk one text; see `ChunkingConfig` for the options and the module for guarantees."""
    return _chunker_for(config or ChunkingConfig()).chunk(
        text, source_id=source_id, metadata=metadata
    )


def chunk_documents(
    documents: Iterable[Mapping[str, Any]], *, config: ChunkingConfig | None = None
) -> list[Chunk]:
    """Chunk many documents (``{"id", "text", "metadata"?}``) with one configuration."""
    return _chunker_for(config or ChunkingConfig()).chunk_documents(documents)


@functools.lru_cache(maxsize=16)
def _chunker_for(config: ChunkingConfig) -> Chunker:
    """Chunkers are cheap but not free (compiled separators); reuse one per config."""
    return Chunker(config)


def _is_separator(value: object) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, re.Pattern):
        return isinstance(value.pattern, str) and value.match("") is None
    return False


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chunk_factory() -> Callable[[str, str, int, int, int, dict[str, Any], int | None], Chunk]:
    """A constructor for `Chunk` that sets the slots directly.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field;
    writing the slot descriptors directly builds the same object in half the time, which
    is a fifth of the whole cost of chunking prose. Only for values already validated.
    """
    new = object.__new__
    setters = [getattr(Chunk, name).__set__ for name in Chunk.__slots__]
    set_text, set_source, set_index, set_start, set_end, set_metadata, set_count = setters

    def build(
        text: str,
        source_id: str,
        index: int,
        start: int,
        end: int,
        metadata: dict[str, Any],
        token_count: int | None,
    ) -> Chunk:
        chunk = new(Chunk)
        set_text(chunk, text)
        set_source(chunk, source_id)
        set_index(chunk, index)
        set_start(chunk, start)
        set_end(chunk, end)
        set_metadata(chunk, metadata)
        set_count(chunk, token_count)
        return chunk

    return build


_new_chunk = _chunk_factory()
