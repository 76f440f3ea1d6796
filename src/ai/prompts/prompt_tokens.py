"""Token counts of rendered prompts in time linear in their length, whatever the text.

tiktoken cuts text into pieces with a regex, then merges byte pairs within each piece. On
a long run without spaces (megabytes of one letter, a base64 blob) or of whitespace, both
steps grow faster than the text, and a run of about 1.6 million spaces overflows the regex
engine's stack: a Rust panic, raised as `pyo3_runtime.PanicException`, which is not even
an `Exception`. A prompt with one 10 MB variable value must not do either. So the text is
counted in segments of at most `SEGMENT_CHARS` characters, each costing bounded work.

Cuts go where the tokenizer starts a new piece anyway, so they leave the count exact:
just before a space that follows a non-space character. In both encodings' regexes
(cl100k and o200k) no piece contains a non-space character followed by a space, no
pattern looks behind, and the only look-ahead, `\\s+(?!\\S)`, belongs to whitespace
pieces, which cannot end on a non-space. (Python's `\\S` is narrower than the
tokenizer's: it also counts U+001C..U+001F as space, which only skips some cuts.) A
window with no such place (a long run of one character) is cut at its end; that may move
the count by a token or two, and the count is then marked `estimated`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ai.accounting.tokens import (
    SEGMENT_CHARS,
    ModelEncoding,
    TokenCount,
    count_message_tokens,
    encoding_for_model,
    split_for_counting,
)


def count_text(text: str, model: str, size: int = SEGMENT_CHARS) -> TokenCount:
    """Tokens of `text` for `model`, as `ai.accounting.tokens.count_tokens` counts them."""
    counter = _SegmentCounter(encoding_for_model(model), size)
    tokens = counter.count(text)
    return TokenCount(tokens, counter.encoding.name.value, counter.estimated)


def count_messages(
    messages: Sequence[Mapping[str, str]], model: str, size: int = SEGMENT_CHARS
) -> TokenCount:
    """Tokens of chat `messages` for `model`, as `count_message_tokens` counts them.

    That count is the framing (3 per message, the role, a name, the reply priming) plus
    the tokens of each content, so the framing is counted with empty contents and the
    contents segment by segment.
    """
    framing = count_message_tokens([{**message, "content": ""} for message in messages], model)
    counter = _SegmentCounter(encoding_for_model(model), size)
    tokens = framing.tokens + sum(counter.count(message["content"]) for message in messages)
    return TokenCount(tokens, framing.encoding, framing.estimated or counter.estimated)


class _SegmentCounter:
    """Counts texts segment by segment. Identical segments (a long run of one character
    repeats the same window) are counted once: equal text, equal count."""

    def __init__(self, encoding: ModelEncoding, size: int) -> None:
        self.encoding = encoding
        self.size = size
        self.exact = True
        self._counts: dict[str, int] = {}

    @property
    def estimated(self) -> bool:
        """True when the encoding stands in for the model's or a cut was not exact."""
        return self.encoding.estimated or not self.exact

    def count(self, text: str) -> int:
        segments, exact = split_for_counting(text, self.size)
        self.exact = self.exact and exact
        total = 0
        for segment in segments:
            tokens = self._counts.get(segment)
            if tokens is None:
                tokens = self._counts[segment] = self.encoding.count(segment)
            total += tokens
        return total
