"""How chunk sizes are measured: characters exactly, or tokens of a BPE encoding.

The splitter asks three questions many times per text: how far can a chunk starting here
reach within a budget (`limit`), how far back may an overlap reach (`back`), and exactly
how big is this span (`count`). For characters all three are arithmetic.

For tokens, the text is encoded once as a whole (`ai.accounting.token_encoders`: quicktok, else
tiktoken) and the character offset of every token is kept, so `limit` and `back` become
binary searches. They are estimates: a span cut out of a text can encode differently from
the same span inside it (BPE pre-tokens run across the cut), so every chunk is also
counted exactly. Exact counting re-encodes only the ends of a span. No pre-token of
cl100k or o200k can run across an *anchor*:

- a space right after a letter, digit or closing punctuation (only whitespace patterns
  hold a space anywhere but first, and they hold nothing but whitespace);
- the start of a line that begins with neither whitespace nor "/" (only the punctuation
  patterns carry line breaks on, and then only into whitespace or o200k's "/").

So the tokens between the first and the last anchor inside a span are exactly the
whole-text tokens there, counted by binary search; only the few characters before the
first and after the last anchor are encoded again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ai.accounting.token_encoders import TokenEncoder, TokenIds

__all__ = ["CharSizer", "CountingSizer", "Sizer", "TokenSizer", "encode_texts"]

_BLOCK_CHARS = 1 << 16
_ANCHOR_PATTERN = (
    r"(?:(?<=[^\W_])|(?<=[.,;:!?)\]}\"']))(?= )"  # a space after a letter, digit or closer
    r"|(?<=\n)(?=[^\s/])"  # a line start, not before whitespace or "/"
)
_ANCHOR = re.compile(_ANCHOR_PATTERN)
_LAST_ANCHOR = re.compile(f"(?s:.*)(?:{_ANCHOR_PATTERN})")  # greedy: backs off from the end

IntArray = npt.NDArray[np.int64]


class Sizer(Protocol):
    """Measures spans ``text[start:end]`` of one text in the chunking unit."""

    exact: bool
    """True when `limit` and `back` are exact, so chunks need no second check."""

    def limit(self, start: int, budget: int) -> int:
        """The furthest end such that ``text[start:end]`` holds about `budget` units."""
        ...

    def back(self, end: int, budget: int) -> int:
        """The earliest start such that ``text[start:end]`` holds about `budget` units."""
        ...

    def count(self, start: int, end: int) -> int:
        """The exact size of ``text[start:end]`` on its own, in units."""
        ...


class CharSizer:
    """Characters (Unicode code points): every answer is exact arithmetic."""

    exact = True

    def limit(self, start: int, budget: int) -> int:
        return start + budget

    def back(self, end: int, budget: int) -> int:
        return end - budget

    def count(self, start: int, end: int) -> int:
        return end - start


class TokenSizer:
    """Tokens of one text, from a single encoding of the whole text.

    `starts` holds the character offset where each token begins (non-decreasing: tokens
    that start inside a multi-byte character map to that character). It is worked out on
    first use from `ids`, the whole text's tokens, when the caller has them already (see
    `encode_texts`); a text that fits one chunk only ever needs their number.
    """

    exact = False

    def __init__(self, text: str, encoder: TokenEncoder, ids: TokenIds | None = None) -> None:
        self._text = text
        self._encoder = encoder
        self._count = encoder.count
        self._ids = ids

    @functools.cached_property
    def starts(self) -> IntArray:
        return _token_char_starts(self._text, self._encoder, self._ids)

    def limit(self, start: int, budget: int) -> int:
        starts = self.starts
        first = int(starts.searchsorted(start))
        partial = first >= len(starts) or int(starts[first]) != start
        stop = first + budget - int(partial)
        return int(starts[stop]) if stop < len(starts) else len(self._text)

    def back(self, end: int, budget: int) -> int:
        first = int(self.starts.searchsorted(end)) - budget
        return int(self.starts[first]) if first > 0 else 0

    def count(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        text = self._text
        if start == 0 and end == len(text):
            return len(self._ids) if self._ids is not None else len(self.starts)
        first = _next_anchor(text, start, end)
        if first < 0:
            return self._count(text[start:end])
        last = _last_anchor(text, first, end)
        inner = int(self.starts.searchsorted(last)) - int(self.starts.searchsorted(first))
        head = self._count(text[start:first]) if first > start else 0
        return head + inner + self._count(text[last:end])


class CountingSizer:
    """Tokens of any tokenizer that reports where its tokens start (a Hugging Face
    tokenizer's offsets): `limit` and `back` search those starts, `count` encodes the
    span again, so it is exact whatever the tokenizer does at a cut."""

    exact = False

    def __init__(self, text: str, starts: IntArray, count: Callable[[str], int]) -> None:
        self._text = text
        self.starts = starts
        self._count = count

    def limit(self, start: int, budget: int) -> int:
        stop = int(self.starts.searchsorted(start)) + budget
        return int(self.starts[stop]) if stop < len(self.starts) else len(self._text)

    def back(self, end: int, budget: int) -> int:
        first = int(self.starts.searchsorted(end)) - budget
        return int(self.starts[first]) if first > 0 else 0

    def count(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        if start == 0 and end == len(self._text):
            return len(self.starts)
        return self._count(self._text[start:end])


def _next_anchor(text: str, start: int, end: int) -> int:
    """The first anchor in ``(start, end)``, or -1."""
    match = _ANCHOR.search(text, start + 1, end)
    return match.start() if match is not None else -1


def _last_anchor(text: str, first: int, end: int) -> int:
    """The last anchor in ``[first, end)``, given that `first` is one."""
    match = _LAST_ANCHOR.match(text, first, end)
    return match.end() if match is not None else first


def encode_texts(texts: Sequence[str], encoder: TokenEncoder) -> list[TokenIds | None]:
    """The tokens of each text, all encoded in one parallel call. Texts long enough to be
    cut into blocks get None: `TokenSizer` encodes each of those alone, block by block in
    parallel, so that one long document does not hold up the rest."""
    small = [index for index, text in enumerate(texts) if len(text) <= 2 * _BLOCK_CHARS]
    encoded: list[TokenIds | None] = [None] * len(texts)
    for index, ids in zip(small, encoder.encode_many([texts[i] for i in small]), strict=True):
        encoded[index] = ids
    return encoded


def _token_char_starts(text: str, encoder: TokenEncoder, known: TokenIds | None) -> IntArray:
    """Character offset of every token of `text` (whose tokens may be `known`), encoding
    large texts in parallel blocks. Blocks are cut at anchors, so their tokens are exactly
    the whole text's tokens.

    A character starts at each UTF-8 byte that is not a continuation byte, so a token's
    offset is the number of such bytes in the tokens before it, less one when the token
    itself starts mid-character (it then maps to the character it starts inside).
    """
    ids = known if known is not None else np.concatenate(encoder.encode_many(_blocks(text)))
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    characters, starts_inside = _character_tables(encoder)
    per_token = characters[ids]
    result: IntArray = np.cumsum(per_token) - per_token - starts_inside[ids]
    return result


@functools.cache
def _character_tables(encoder: TokenEncoder) -> tuple[IntArray, IntArray]:
    """Per token id: how many characters start in its bytes, and 1 when its first byte
    continues a character begun in the token before."""
    tokens = encoder.token_bytes()
    raw = np.frombuffer(b"".join(tokens), dtype=np.uint8)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    ends = np.cumsum(lengths)
    firsts = ends - lengths
    leads = np.concatenate([[0], np.cumsum((raw & 0xC0) != 0x80)])
    characters: IntArray = leads[ends] - leads[firsts]
    present = lengths > 0
    starts_inside: IntArray = np.zeros(len(tokens), dtype=np.int64)
    starts_inside[present] = (raw[firsts[present]] & 0xC0) == 0x80
    return characters, starts_inside


def _blocks(text: str) -> list[str]:
    """Cut a long text at anchors roughly every `_BLOCK_CHARS` characters (one block when
    there is no anchor in reach: exactness of the token offsets matters more than speed)."""
    blocks: list[str] = []
    position = 0
    while len(text) - position > 2 * _BLOCK_CHARS:
        cut = _next_anchor(text, position + _BLOCK_CHARS, position + 2 * _BLOCK_CHARS)
        if cut < 0:
            break
        blocks.append(text[position:cut])
        position = cut
    blocks.append(text[position:])
    return blocks
