"""How chunk sizes are measured: characters exactly, or tokens with tiktoken.

The splitter asks three questions many times per text: how far can a chunk starting here
reach within a budget (`limit`), how far back may an overlap reach (`back`), and exactly
how big is this span (`count`). For characters all three are arithmetic.

For tokens, the text is encoded once as a whole and the character offset of every token
is kept, so `limit` and `back` become binary searches. They are estimates: a span cut out
of a text can encode differently from the same span inside it (BPE pre-tokens run across
the cut), so every chunk is also counted exactly. Exact counting re-encodes only the
ends of a span. No pre-token of cl100k or o200k can run across an *anchor*:

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
from typing import Protocol

import numpy as np
import numpy.typing as npt
import tiktoken

__all__ = ["CharSizer", "Sizer", "TokenSizer"]

_BLOCK_CHARS = 1 << 16
_BEFORE_SPACE_ANCHOR = frozenset(".,;:!?)]}\"'")
_THREADS = 8

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
    that start inside a multi-byte character map to that character).
    """

    exact = False

    def __init__(self, text: str, encoding: tiktoken.Encoding) -> None:
        self._text = text
        self._encode = encoding.encode_ordinary
        self.starts = _token_char_starts(text, encoding)

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
        first = _next_anchor(text, start, end)
        if first < 0:
            return len(self._encode(text[start:end]))
        last = _last_anchor(text, first, end)
        inner = int(self.starts.searchsorted(last)) - int(self.starts.searchsorted(first))
        head = len(self._encode(text[start:first])) if first > start else 0
        return head + inner + len(self._encode(text[last:end]))


def _is_line_anchor(text: str, position: int) -> bool:
    """After a newline, before a character that is neither whitespace nor "/"."""
    head = text[position]
    return text[position - 1] == "\n" and not head.isspace() and head != "/"


def _is_space_anchor(text: str, position: int) -> bool:
    """A space right after a letter, digit or closing punctuation."""
    before = text[position - 1]
    return text[position] == " " and (before.isalnum() or before in _BEFORE_SPACE_ANCHOR)


def _next_anchor(text: str, start: int, end: int) -> int:
    """The first anchor in ``(start, end)``, or -1."""
    space = text.find(" ", start + 1, end)
    while space >= 0 and not _is_space_anchor(text, space):
        space = text.find(" ", space + 1, end)
    limit = space if space >= 0 else end
    newline = text.find("\n", start, limit - 1)
    while newline >= 0:
        if _is_line_anchor(text, newline + 1):
            return newline + 1
        newline = text.find("\n", newline + 1, limit - 1)
    return space


def _last_anchor(text: str, first: int, end: int) -> int:
    """The last anchor in ``[first, end)``, given that `first` is one."""
    last = first
    space = text.rfind(" ", first + 1, end)
    while space > first:
        if _is_space_anchor(text, space):
            last = space
            break
        space = text.rfind(" ", first + 1, space)
    newline = text.rfind("\n", last, end - 1)
    while newline >= last:
        if _is_line_anchor(text, newline + 1):
            return newline + 1
        newline = text.rfind("\n", last, newline)
    return last


def _token_char_starts(text: str, encoding: tiktoken.Encoding) -> IntArray:
    """Character offset of every token of `text`, encoding large texts in parallel blocks.

    Blocks are cut at anchors, so their tokens are exactly the whole text's tokens.
    """
    blocks = _blocks(text)
    if len(blocks) == 1:
        ids = np.asarray(encoding.encode_ordinary(text), dtype=np.int64)
    else:
        encoded = encoding.encode_ordinary_batch(blocks, num_threads=_THREADS)
        ids = np.concatenate([np.asarray(block, dtype=np.int64) for block in encoded])
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = _token_byte_lengths(encoding)[ids]
    byte_starts = np.cumsum(lengths) - lengths
    if text.isascii():
        return byte_starts
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    char_of_byte = np.cumsum((raw & 0xC0) != 0x80, dtype=np.int64) - 1
    result: IntArray = char_of_byte[byte_starts]
    return result


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


@functools.lru_cache(maxsize=8)
def _token_byte_lengths(encoding: tiktoken.Encoding) -> IntArray:
    """Byte length of every token id (0 for unused ids); built once per encoding."""
    lengths = np.zeros(encoding.max_token_value + 1, dtype=np.int64)
    for token in range(encoding.max_token_value + 1):
        try:
            lengths[token] = len(encoding.decode_single_token_bytes(token))
        except KeyError:
            continue
    return lengths
