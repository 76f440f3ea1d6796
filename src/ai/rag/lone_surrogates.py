"""Lone UTF-16 surrogates made U+FFFD where text enters retrieval.

A Python `str` may hold a surrogate code point (JSON's ``"\\ud800"`` decodes to one), which
UTF-8 cannot carry: hashing, sending or tokenizing such text fails. The retriever and
`EmbeddingService.embed` replace each one by U+FFFD, one character for one (so character
offsets stay valid), which is what chunking already counts it as and what a provider
receives when the text is sent as UTF-8 with replacement (docs/chunking.md).
"""

from __future__ import annotations

import re

__all__ = ["replace_lone_surrogates"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """`text` with every surrogate code point replaced by U+FFFD (same length); the
    same object when there is none."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)
