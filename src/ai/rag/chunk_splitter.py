"""The splitting engine behind `ai.rag.chunking`: offsets in, chunk spans out.

One `Splitter` handles one text. It walks the text once, chunk by chunk. For each chunk
it asks the sizer how far the chunk may reach, then looks for the last cut inside that
window at the strongest separator level that has one (`Separator.last_cut`, one C-level
search per level tried). The work per chunk is a handful of searches over about one
chunk of text, whatever the number of paragraphs, lines or words inside it; no list of
pieces is ever built and no piece is copied until the chunk's own text is sliced.

Rules, in the order they apply:

- Forced breaks (Markdown headings at or above the section level) split the text into
  segments that are chunked independently; overlap never crosses them, and an overlap
  never reaches back across a deeper heading either.
- A cut goes just after a separator; whitespace at a chunk's end is trimmed, so a
  separator's trailing whitespace may run past the size limit for free.
- Inside fenced code a cut may only fall at a line start; when a window lies inside one
  code line, that line becomes a chunk of its own, whatever its size.
- With no separator in the window, the chunk is hard-split at the limit.
- In token mode the window is estimated from one encoding of the whole text, and the
  chunk is then counted exactly; a chunk that came out over shrinks its budget by the
  excess and is cut again.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Sequence

from ai.rag.chunk_sizing import Sizer
from ai.rag.markdown_sections import MarkdownOutline
from ai.rag.separators import PositionSeparator, Separator

__all__ = ["Span", "Splitter"]

Span = tuple[int, int, str, int | None]
"""(start, end, text, exact token count or None) of one chunk."""

_WHITESPACE = re.compile(r"\s+")

# how a chunk's end was chosen
_AT_SEPARATOR = 0
_HARD = 1
_WHOLE_LINE = 2


class Splitter:
    """The chunk spans of one text, for one size, overlap, separator list and outline."""

    def __init__(
        self,
        text: str,
        *,
        size: int,
        overlap: int,
        separators: Sequence[Separator],
        sizer: Sizer,
        outline: MarkdownOutline | None,
        section_level: int,
    ) -> None:
        self.text = text
        self.size = size
        self.overlap = overlap
        self.sizer = sizer
        self.outline = outline
        self.breaks: list[int] = []
        self.sections: list[int] = []
        self.fence_starts: list[int] = []
        self.fence_ends: list[int] = []
        first_cuts = [separator.first_cut for separator in separators]
        if outline is not None:
            headings = outline.headings
            self.breaks = self._forced_breaks(
                [h.start for h in headings if h.level <= section_level and h.start]
            )
            self.sections = [h.start for h in headings if h.level > section_level and h.start]
            if self.sections:
                first_cuts.insert(0, PositionSeparator(self.sections).first_cut)
            self.fence_starts = [start for start, _ in outline.fences]
            self.fence_ends = [end for _, end in outline.fences]
        # looked up once: these run for every chunk
        self._last_cuts = [separator.last_cut for separator in separators]
        self._first_cuts = first_cuts
        self._fenced = bool(self.fence_starts)

    def _forced_breaks(self, candidates: list[int]) -> list[int]:
        """Section starts that begin a new segment: all but those where the segment before
        holds nothing but headings (a title stays with the section under it)."""
        assert self.outline is not None
        breaks: list[int] = []
        previous = 0
        for start in candidates:
            if self.outline.skip_headings(self.text, previous, start) < start:
                breaks.append(start)
                previous = start
        return breaks

    def spans(self) -> Iterator[Span]:
        """Every chunk, in order."""
        if not self.breaks:
            whole = self._whole()
            if whole is not None:
                if whole[2]:
                    yield whole
                return
        bounds = [0, *self.breaks, len(self.text)]
        for segment_start, segment_end in itertools.pairwise(bounds):
            yield from self._segment(segment_start, segment_end)

    def _whole(self) -> Span | None:
        """The text as one chunk when all of it fits (the common case for short documents,
        which then cost one count and no window searches); None when it does not."""
        text = self.text
        start = self._content_start(0, len(text))
        end = len(text)
        while end > start and text[end - 1].isspace():
            end -= 1
        count = self.sizer.count(start, end)
        if count > self.size:
            return None
        return start, end, text[start:end], None if self.sizer.exact else count

    def _segment(self, segment_start: int, end: int) -> Iterator[Span]:
        text = self.text
        next_chunk = self._next_chunk_chars if self.sizer.exact else self._next_chunk
        position = floor = self._content_start(segment_start, end)
        while position < end:
            start, cut, body, count, how = next_chunk(position, floor, end)
            if body:
                yield start, start + len(body), body, count
            if cut >= end:
                return
            # the next chunk must reach past the first character after this cut that is
            # not whitespace, so that it always adds text the previous one lacks
            floor = _skip_whitespace(text, cut, end) if text[cut].isspace() else cut
            if floor >= end:
                return
            if self.overlap and body:
                position = self._overlap_start(start, cut, start + len(body), end, how)
            else:
                position = cut if floor == cut else self._content_start(cut, end)

    def _next_chunk_chars(
        self, position: int, floor: int, end: int
    ) -> tuple[int, int, str, int | None, int]:
        """`_next_chunk` for characters, where the window is exact: no second count."""
        lo = floor if floor > position else position
        if position + self.size <= lo:  # overlap or indentation leaves no room: drop it
            position = lo = self._content_start(lo, end)
        cut, how = self._cut(lo, position + self.size, end)
        if how == _WHOLE_LINE:
            position = max(position, self.text.rfind("\n", 0, lo) + 1)
        return position, cut, self.text[position:cut].rstrip(), None, how

    def _next_chunk(
        self, position: int, floor: int, end: int
    ) -> tuple[int, int, str, int | None, int]:
        """The chunk that starts at `position` and ends past `floor`: (start, cut, text,
        tokens, how it was cut), where text is ``text[start:cut]`` without its trailing
        whitespace."""
        budget = self.size
        sizer = self.sizer
        while True:
            lo = floor if floor > position else position
            hi = sizer.limit(position, budget)
            if hi <= lo:
                if position < lo:  # the overlap leaves no room: drop it
                    position, budget = self._content_start(lo, end), self.size
                    continue
                hi = lo + 1
            cut, how = self._cut(lo, hi, end)
            forced = how == _WHOLE_LINE
            start = max(position, self.text.rfind("\n", 0, lo) + 1) if forced else position
            body = self.text[start:cut].rstrip()
            if sizer.exact:
                return start, cut, body, None, how
            count = sizer.count(start, start + len(body))
            if count <= self.size or forced or len(body) <= 1:
                return start, cut, body, count, how
            budget -= count - self.size

    def _cut(self, lo: int, hi: int, end: int) -> tuple[int, int]:
        """The last cut in ``(lo, hi]`` at the strongest level that has one: (cut, how).

        `how` is `_AT_SEPARATOR`, `_HARD` (no separator in the window: cut at `hi`), or
        `_WHOLE_LINE` (the window lies inside one line of fenced code: the cut is that
        line's end, beyond `hi`).
        """
        text = self.text
        if hi >= end:
            return end, _AT_SEPARATOR
        reach = _skip_whitespace(text, hi, end) if text[hi].isspace() else hi
        if reach >= end:
            return end, _AT_SEPARATOR
        if self.sections:
            cut = self._section_cut(lo, reach)
            if cut > lo:
                return cut, _AT_SEPARATOR
        fenced = self._fenced
        for last_cut in self._last_cuts:
            cut = last_cut(text, lo, reach)
            if cut > lo:
                if fenced:
                    cut = self._snap_back(cut)
                if cut > lo:
                    return cut, _AT_SEPARATOR
        cut = self._snap_back(hi) if fenced else hi
        if cut > lo:
            return cut, _HARD
        newline = text.find("\n", hi, end)
        return (newline + 1 if newline >= 0 else end), _WHOLE_LINE

    def _section_cut(self, lo: int, reach: int) -> int:
        """The last heading in ``(lo, reach]`` that has more than headings before it."""
        assert self.outline is not None
        sections = self.sections
        index = bisect.bisect_right(sections, reach) - 1
        while index >= 0 and sections[index] > lo:
            if self.outline.skip_headings(self.text, lo, sections[index]) < sections[index]:
                return sections[index]
            index -= 1
        return -1

    def _overlap_start(
        self, previous_start: int, cut: int, previous_end: int, end: int, how: int
    ) -> int:
        """Where the chunk after one ending at `cut` starts: the first cut that is at most
        `overlap` units before the previous chunk's end, at the strongest level that has
        one, so the overlap starts at a boundary too. Only after a hard split may the
        overlap start mid-word; with no boundary in reach there is no overlap."""
        lo = max(self.sizer.back(previous_end, self.overlap), previous_start + 1)
        if self.sections:
            section = bisect.bisect_right(self.sections, cut) - 1
            if section >= 0 and self.sections[section] > lo:
                lo = self.sections[section]
        while lo < previous_end:
            found = self._first_overlap_cut(lo, previous_end, hard=how == _HARD)
            if found >= previous_end:
                break
            start = self._content_start(found, end)
            if self.sizer.exact or start >= previous_end:
                return start
            if self.sizer.count(start, previous_end) <= self.overlap:
                return start
            lo = found + 1
        return self._content_start(cut, end)

    def _first_overlap_cut(self, lo: int, cut: int, *, hard: bool) -> int:
        text = self.text
        fenced = self._fenced
        for first_cut in self._first_cuts:
            found = first_cut(text, lo, cut)
            if lo <= found < cut:
                if fenced:
                    found = self._snap_forward(found, cut)
                if found < cut:
                    return found
        if not hard:
            return cut
        return self._snap_forward(lo, cut) if fenced else lo

    def _in_code_line(self, position: int) -> bool:
        """True when `position` is inside a line of fenced code (not at its start)."""
        if position == 0 or self.text[position - 1] == "\n":
            return False
        index = bisect.bisect_right(self.fence_starts, position) - 1
        return index >= 0 and position < self.fence_ends[index]

    def _snap_back(self, position: int) -> int:
        """`position`, or the start of its line when that line is fenced code."""
        if self._in_code_line(position):
            return self.text.rfind("\n", 0, position) + 1
        return position

    def _snap_forward(self, position: int, limit: int) -> int:
        """`position`, or the next line start (at most `limit`) when inside fenced code."""
        if self._in_code_line(position):
            newline = self.text.find("\n", position, limit)
            return newline + 1 if newline >= 0 else limit
        return position

    def _content_start(self, position: int, end: int) -> int:
        """Skip whitespace at `position`, but keep the indentation of a line's first text."""
        text = self.text
        if position >= end or not text[position].isspace():
            return position
        stop = _skip_whitespace(text, position, end)
        if stop >= end:
            return stop
        newline = text.rfind("\n", position, stop)
        if newline >= 0:
            return newline + 1
        at_line_start = position == 0 or text[position - 1] == "\n"
        return position if at_line_start else stop


def _skip_whitespace(text: str, position: int, end: int) -> int:
    """The first offset at or after `position` (and before `end`) that is not whitespace."""
    match = _WHITESPACE.match(text, position, end)
    return match.end() if match is not None else position
