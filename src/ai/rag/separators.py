"""Where text may be cut: separators, strongest first, found by searching inside a window.

A separator stays with the text before it (a sentence keeps its full stop, a paragraph
its blank line), so a cut is the offset just *after* a separator match. The splitter
never lists every cut in a text: it asks for the last cut inside the window a chunk can
reach (`last_cut`) or the first cut inside the overlap window (`first_cut`), and both are
one C-level search (`str.rfind`/`str.find`, or one regex match) over that window.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "DEFAULT_SEPARATORS",
    "LINE",
    "PARAGRAPH",
    "SENTENCE",
    "WORD",
    "LiteralSeparator",
    "PositionSeparator",
    "RegexSeparator",
    "Separator",
    "compile_separator",
]

PARAGRAPH = re.compile(r"\n(?:[^\S\n]*\n)+")
"""A line end followed by one or more blank lines (lines of only spaces count as blank).
It starts with a literal newline so that the regex engine can skip ahead to candidates."""
LINE = "\n"
SENTENCE = re.compile(r"[.!?…‽。！？][.!?…‽。！？]*[\"'”’»」』)\]]*(?:\s+|(?<=[。！？」』]))")
"""Sentence-ending punctuation (with closing quotes or brackets), then whitespace; CJK
full stops need no whitespace. The punctuation stays with the sentence before it. (One
character class first, not an alternation or a ``+``, lets the regex engine skip ahead.)"""
WORD = re.compile(r"\s+")
DEFAULT_SEPARATORS: tuple[str | re.Pattern[str], ...] = (PARAGRAPH, LINE, SENTENCE, WORD)


class Separator(Protocol):
    """Finds cut offsets (just after a separator) within ``text[lo:hi]``."""

    def last_cut(self, text: str, lo: int, hi: int) -> int:
        """The largest cut `c` with ``lo < c <= hi``, or -1."""
        ...

    def first_cut(self, text: str, lo: int, hi: int) -> int:
        """The cut after the first separator that starts at or after `lo` and ends by `hi`,
        or -1."""
        ...


class LiteralSeparator:
    """A fixed string, searched with `str.rfind`/`str.find`."""

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._width = len(separator)

    def last_cut(self, text: str, lo: int, hi: int) -> int:
        found = text.rfind(self.separator, lo, hi)
        return found + self._width if found >= 0 else -1

    def first_cut(self, text: str, lo: int, hi: int) -> int:
        found = text.find(self.separator, lo, hi)
        return found + self._width if found >= 0 else -1


class RegexSeparator:
    """A regular expression. The last match in a window is found by one match of
    ``(?s:.*)(?:pattern)``: the greedy prefix backtracks from the window's end, so the
    search costs about the distance from the end to the last separator."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        try:
            self._last: re.Pattern[str] | None = re.compile(
                f"(?s:.*)(?:{pattern.pattern})", pattern.flags
            )
        except re.error:  # e.g. global inline flags, which must stay at the start
            self._last = None

    def last_cut(self, text: str, lo: int, hi: int) -> int:
        if self._last is None:
            ends = [match.end() for match in self.pattern.finditer(text, lo, hi)]
            return ends[-1] if ends and ends[-1] > lo else -1
        match = self._last.match(text, lo, hi)
        return match.end() if match is not None and match.end() > lo else -1

    def first_cut(self, text: str, lo: int, hi: int) -> int:
        match = self.pattern.search(text, lo, hi)
        return match.end() if match is not None else -1


class PositionSeparator:
    """Cuts at known offsets (Markdown section starts), found by binary search."""

    def __init__(self, positions: Sequence[int]) -> None:
        self.positions = sorted(positions)

    def last_cut(self, text: str, lo: int, hi: int) -> int:
        index = bisect.bisect_right(self.positions, hi) - 1
        return self.positions[index] if index >= 0 and self.positions[index] > lo else -1

    def first_cut(self, text: str, lo: int, hi: int) -> int:
        index = bisect.bisect_left(self.positions, lo)
        found = self.positions[index] if index < len(self.positions) else -1
        return found if found <= hi else -1


def compile_separator(separator: str | re.Pattern[str]) -> Separator:
    """A plain string is literal text; a compiled pattern is a regular expression."""
    if isinstance(separator, re.Pattern):
        return RegexSeparator(separator)
    return LiteralSeparator(separator)
