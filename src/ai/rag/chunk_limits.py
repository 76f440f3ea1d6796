"""Chunks that fit the embedding model: its input limit, counted in its own tokenizer.

An embedding model reads at most so many of its own tokens per input and silently drops
the rest: all-MiniLM-L6-v2 reads 256 word-pieces, two of them the [CLS] and [SEP] markers
it adds, so a chunk of 512 cl100k tokens lost about half its text before it was
embedded. `InputLimit` says what a model reads; `ContextRetriever` sizes its default
chunks to it (`InputLimit.chunking`) and warns (`ChunkSizeWarning`) when a configured
size, or a chunk, goes over.

Local sentence-transformers models are counted with their own ``tokenizer.json``
(`HFTokenCounter`, the `tokenizers` package, no torch); OpenAI models with their BPE
encoding (``ai.accounting.token_encoders``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.accounting.token_encoders import token_encoder
from ai.accounting.tokens import encoding_for_model

__all__ = [
    "ChunkSizeWarning",
    "HFTokenCounter",
    "InputLimit",
    "hf_token_counter",
    "input_limit_of",
]

IntArray = npt.NDArray[np.int64]
_MAX_DEFAULT_OVERLAP = 64
#: A query counts as unread when the tokenizer spells out more than this share of it.
_READ_SHARE = 0.5


class ChunkSizeWarning(UserWarning):
    """A chunk size, or a chunk, exceeds what the embedding model reads."""


class HFTokenCounter:
    """Counts a Hugging Face tokenizer's tokens (no special tokens, no truncation) and
    gives each token's starting character, for chunking in that tokenizer's units."""

    def __init__(self, path: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ImportError(
                "Counting a model's own tokens needs the tokenizers package: "
                "pip install 'devora-ai[local]'"
            ) from error
        self.path = path
        self._tokenizer: Any = Tokenizer.from_file(path)
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        unknown = getattr(self._tokenizer.model, "unk_token", None)
        token_id = self._tokenizer.token_to_id(unknown) if isinstance(unknown, str) else None
        self._unknown: int = -1 if token_id is None else token_id

    def count(self, text: str) -> int:
        """Tokens in `text`, markers such as [CLS] not included."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """`count` of each text, encoded in parallel."""
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encoded]

    def starts_many(self, texts: Sequence[str]) -> list[IntArray]:
        """The character offset where each token of each text starts."""
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [
            np.fromiter((start for start, _ in e.offsets), dtype=np.int64, count=len(e.offsets))
            for e in encoded
        ]

    def special_tokens(self) -> int:
        """How many markers the tokenizer adds to one input ([CLS] and [SEP]: 2)."""
        return len(self._tokenizer.encode("", add_special_tokens=True).ids)

    def spelled_out_share(self, text: str) -> float:
        """The share of `text`'s characters (in words of three or more) that the tokenizer
        spells out, in pieces of fewer than two characters on average, or marks unknown.

        A model's vocabulary holds the words of the languages it was trained on, whole or
        in a few pieces; text in a script it never learnt falls apart into single
        characters or [UNK]. For all-MiniLM-L6-v2 that share is 0.86-1.0 on each of the
        50 ARCD questions (Arabic) and 0.0-0.19 on each of 50 from DBPedia, MS MARCO and
        the business reports; a German question scored 0.1, French and Spanish 0.0.
        Words of one or two characters are left out: every tokenizer may spell those.
        """
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        words: dict[int, list[int]] = {}  # word -> [pieces, first char, end char, unknown]
        for word, token, (start, end) in zip(
            encoding.word_ids, encoding.ids, encoding.offsets, strict=True
        ):
            if word is None:
                continue
            seen = words.setdefault(word, [0, start, end, 0])
            seen[0] += 1
            seen[1], seen[2] = min(seen[1], start), max(seen[2], end)
            seen[3] |= token == self._unknown
        counted = spelled = 0
        for pieces, start, end, unknown in words.values():
            characters = end - start
            if characters < 3 and not unknown:
                continue
            counted += characters
            if unknown or characters < 2 * pieces:
                spelled += characters
        return spelled / counted if counted else 0.0


@functools.lru_cache(maxsize=8)
def hf_token_counter(path: str) -> HFTokenCounter:
    """One counter per tokenizer file (loading one takes ~50 ms)."""
    return HFTokenCounter(path)


@dataclass(frozen=True, slots=True)
class InputLimit:
    """What an embedding model reads of one input.

    `max_tokens` counts everything the model sees, `special_tokens` of them markers it
    adds itself, so a chunk may hold `content_tokens`. Tokens are counted by the
    `tokenizer` file (Hugging Face ``tokenizer.json``) when given, else by the BPE
    encoding of `encoding_model` (OpenAI).
    """

    model: str
    max_tokens: int
    special_tokens: int = 0
    tokenizer: str | None = None
    encoding_model: str = "text-embedding-3-small"

    @property
    def content_tokens(self) -> int:
        """The most tokens of text one chunk may hold."""
        return self.max_tokens - self.special_tokens

    @property
    def default_overlap(self) -> int:
        """An eighth of a chunk, at most 64 tokens."""
        return min(_MAX_DEFAULT_OVERLAP, self.content_tokens // 8)

    def counts(self, texts: Sequence[str]) -> list[int]:
        """Each text's size in the model's tokens (markers not included)."""
        if self.tokenizer is not None:
            return hf_token_counter(self.tokenizer).count_many(texts)
        encoder = token_encoder(encoding_for_model(self.encoding_model))
        return [encoder.count(text) for text in texts]

    def reads(self, text: str) -> bool:
        """False when the model's own tokenizer spells out more than half of `text`
        (`HFTokenCounter.spelled_out_share`): a script its vocabulary lacks, whose
        embedding then carries little meaning. True when there is no tokenizer file to
        ask (OpenAI's models read many languages)."""
        if self.tokenizer is None:
            return True
        return hf_token_counter(self.tokenizer).spelled_out_share(text) <= _READ_SHARE

    def check_size(self, chunk_size: int, *, same_tokens: bool) -> None:
        """Warn if a configured chunk size counted in this model's tokens exceeds what it
        reads (`same_tokens` False: another unit, checked chunk by chunk at ingest)."""
        if same_tokens and chunk_size > self.content_tokens:
            warnings.warn(
                f"chunk_size={chunk_size} exceeds what {self.model} reads "
                f"({self.content_tokens} tokens of text, {self.max_tokens} with its markers): "
                "the model will silently ignore the rest of each long chunk.",
                ChunkSizeWarning,
                stacklevel=3,
            )

    def check_chunks(self, texts: Sequence[str]) -> int:
        """Count the chunks over the limit, warn once if there are any; returns the count."""
        over = sum(1 for count in self.counts(texts) if count > self.content_tokens)
        if over:
            warnings.warn(
                f"{over} of {len(texts)} chunks exceed what {self.model} reads "
                f"({self.content_tokens} tokens of text): their ends will not be embedded. "
                "Use a smaller chunk_size, or leave chunking to the default.",
                ChunkSizeWarning,
                stacklevel=3,
            )
        return over


def input_limit_of(embeddings: object) -> InputLimit | None:
    """The input limit of an embedder, when it knows it.

    An `EmbeddingService` asks its backend (`input_limit()`, present on the local and
    OpenAI backends); any embedder may offer `input_limit()` itself. None when unknown.
    """
    for owner in (embeddings, getattr(embeddings, "backend", None)):
        method = getattr(owner, "input_limit", None)
        if callable(method):
            limit = method()
            if limit is None or isinstance(limit, InputLimit):
                return limit
    return None
