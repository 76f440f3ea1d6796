"""The Markdown structure that chunking respects: ATX headings and fenced code blocks.

Only what chunking needs is parsed, in one regex pass each over the whole text:

- ATX headings (``#`` .. ``######`` after at most three spaces, then a space or the end of
  the line), so every chunk can carry the heading path in effect where it starts and so
  chunks can break at section starts. Setext headings (underlined with ``===``) are not
  recognised.
- Fenced code blocks (three or more backticks or tildes after at most three spaces, closed
  by a line of at least as many of the same character), so code is only ever split at
  line boundaries. A fence that is never closed runs to the end of the text, as in
  CommonMark. Headings inside a fence are code, not headings.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

__all__ = ["Heading", "MarkdownOutline"]

# Each pattern starts with a literal that the regex engine finds with a fast search
# instead of attempting a match at every offset: a newline for headings (one pass over
# the line starts, in order), the marker run for fences (one pattern per character).
# `parse` prepends a newline so that the first line is found like the others.
_HEADING = re.compile(r"\n {0,3}#(#{0,5})(?:[ \t]+(.*?))?[ \t\r]*$", re.MULTILINE)
_FENCES = (re.compile(r"```(`*)(.*)"), re.compile(r"~~~(~*)(.*)"))
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Heading:
    """One ATX heading: where its line starts and ends (before the newline), its level
    (1-6) and its title."""

    start: int
    end: int
    level: int
    title: str


@dataclass(frozen=True, slots=True)
class MarkdownOutline:
    """Headings (with the heading path each one opens) and fenced-code ranges of a text.

    `fences` are ``(start, end)`` character ranges from the start of the opening fence line
    to the end of the closing fence line (its newline included), sorted and disjoint.
    `content_starts[i]` is where the content under heading ``i`` begins: the first offset
    after its line that is neither whitespace nor another heading line.
    """

    headings: tuple[Heading, ...]
    heading_starts: tuple[int, ...]
    content_starts: tuple[int, ...]
    paths: tuple[tuple[str, ...], ...]
    fences: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str) -> MarkdownOutline:
        """Find the fences first, then the headings outside them."""
        if "#" not in text and "```" not in text and "~~~" not in text:
            return _EMPTY  # most plain texts: three C-level scans instead of six regex passes
        padded = "\n" + text  # a match at padded offset i is a line starting at offset i
        fences = _fence_ranges(padded)
        fence_starts = [start for start, _ in fences]
        headings: list[Heading] = []
        for match in _HEADING.finditer(padded):
            start = match.start()
            index = bisect.bisect_right(fence_starts, start) - 1
            if index >= 0 and start < fences[index][1]:
                continue
            title = (match.group(2) or "").strip()
            if title.endswith("#"):
                title = _CLOSING_HASHES.sub("", title).strip()
            headings.append(Heading(start, match.end() - 1, 1 + len(match.group(1)), title))
        return cls(
            tuple(headings),
            tuple(heading.start for heading in headings),
            _content_starts(text, headings),
            _heading_paths(headings),
            tuple(fences),
        )

    def path_at(self, position: int) -> list[str]:
        """The heading path in effect at `position`: the titles of the enclosing headings."""
        index = bisect.bisect_right(self.heading_starts, position) - 1
        return list(self.paths[index]) if index >= 0 else []

    def content_path(self, start: int, end: int) -> list[str]:
        """The heading path of the content of ``text[start:end]``: a span that opens with
        heading lines belongs under the last of them (that starts before `end`)."""
        starts = self.heading_starts
        index = bisect.bisect_right(starts, start) - 1
        if index >= 0 and start < self.content_starts[index]:
            index = bisect.bisect_left(starts, min(self.content_starts[index], end)) - 1
        return list(self.paths[index]) if index >= 0 else []

    def skip_headings(self, text: str, position: int, limit: int) -> int:
        """The first offset from `position` (at most `limit`) that is neither whitespace nor
        part of a heading line: where the content under a run of headings begins."""
        if position < limit and text[position].isspace():
            position = _skip_space(text, position, limit)
        if position >= limit:
            return limit
        index = bisect.bisect_right(self.heading_starts, position) - 1
        if index < 0 or position >= self.headings[index].end:
            return position
        return min(self.content_starts[index], limit)


_EMPTY = MarkdownOutline((), (), (), (), ())


def _content_starts(text: str, headings: list[Heading]) -> tuple[int, ...]:
    """For each heading, the first offset after it that is not whitespace or a heading."""
    starts = [len(text)] * len(headings)
    for index in range(len(headings) - 1, -1, -1):
        after = _skip_space(text, headings[index].end, len(text))
        following = (
            index + 1 < len(headings)
            and headings[index + 1].start <= after < headings[index + 1].end
        )
        starts[index] = starts[index + 1] if following else after
    return tuple(starts)


def _skip_space(text: str, position: int, limit: int) -> int:
    match = _SPACE.match(text, position, limit)
    return match.end() if match is not None else position


def _heading_paths(headings: list[Heading]) -> tuple[tuple[str, ...], ...]:
    """For each heading, the titles of it and its open ancestors (empty titles left out)."""
    stack: list[Heading] = []
    paths: list[tuple[str, ...]] = []
    for heading in headings:
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        paths.append(tuple(h.title for h in stack if h.title))
    return tuple(paths)


def _fence_ranges(padded: str) -> list[tuple[int, int]]:
    """Pair opening and closing fence lines; an unclosed fence runs to the end.

    Offsets are into the text without the newline that `padded` starts with.
    """
    ranges: list[tuple[int, int]] = []
    opening: tuple[int, str] | None = None  # (line start, marker)
    for line_start, marker, rest, line_end in _fence_lines(padded):
        if opening is None:
            if marker[0] == "`" and "`" in rest:
                continue  # a backtick fence's info string may not contain backticks
            opening = (line_start, marker)
            continue
        start, open_marker = opening
        if marker[0] == open_marker[0] and len(marker) >= len(open_marker) and not rest.strip():
            ranges.append((start, min(line_end + 1, len(padded)) - 1))
            opening = None
    if opening is not None:
        ranges.append((opening[0], len(padded) - 1))
    return ranges


def _fence_lines(padded: str) -> list[tuple[int, str, str, int]]:
    """Lines that start (after at most three spaces) with a fence marker, in order:
    (line start as an offset into the unpadded text, marker, rest of line, line end)."""
    lines = []
    for pattern in _FENCES:
        for match in pattern.finditer(padded):
            newline = padded.rfind("\n", 0, match.start())
            indent = padded[newline + 1 : match.start()]
            if len(indent) <= 3 and not indent.strip(" "):
                marker = padded[match.start() : match.start(2)]
                lines.append((newline, marker, match.group(2), match.end()))
    return sorted(lines)
