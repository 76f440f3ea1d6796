"""Token ids in bulk, for work that encodes whole documents (chunking).

`ai.accounting.tokens` decides which encoding a model is counted with; this module encodes large
amounts of text with that encoding as fast as the installed packages allow. quicktok's
C++ encoder (already a dependency: its wheel ships the o200k vocabulary) is used where it
has the encoding, tiktoken otherwise. Both give the same ids: quicktok is exact against
tiktoken, and ``tests/ai/test_token_encoders.py`` checks that on arbitrary text. quicktok
is 3-10x faster on long texts, encodes many texts on every core, and hands back numpy
arrays, so no Python int is ever made per token.

A Python ``str`` may hold lone surrogates, which UTF-8 cannot: each one is encoded as
U+FFFD (one character for one, so character offsets stay valid), which is also what a
provider receives when the text is sent as UTF-8 with replacement.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import tiktoken

from ai.accounting.tokens import ModelEncoding

__all__ = ["QuicktokEncoder", "TiktokenEncoder", "TokenEncoder", "TokenIds", "token_encoder"]

TokenIds = npt.NDArray[np.uint32]
"""The token ids of one text."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_T = TypeVar("_T")


class TokenEncoder(Protocol):
    """Encodes text with one BPE encoding, special-token markers counted as plain text."""

    name: str

    def __hash__(self) -> int:
        """Encoders are hashable (by identity), so tables derived from one can be cached."""
        ...

    def count(self, text: str) -> int:
        """The number of tokens in `text`."""
        ...

    def encode_many(self, texts: Sequence[str]) -> list[TokenIds]:
        """The tokens of each text, encoded in parallel where the encoder can."""
        ...

    def token_bytes(self) -> Sequence[bytes]:
        """The bytes of every token, indexed by id (empty for ids that are not tokens)."""
        ...


def token_encoder(model_encoding: ModelEncoding) -> TokenEncoder:
    """The fastest installed encoder for `model_encoding`'s encoding; built once each."""
    return _encoder_for(model_encoding.name.value, model_encoding.encoding)


@functools.cache
def _encoder_for(name: str, encoding: tiktoken.Encoding) -> TokenEncoder:
    tokenizer = _quicktok_tokenizer(name)
    if tokenizer is None:
        return TiktokenEncoder(encoding)
    return QuicktokEncoder(name, tokenizer)


def _quicktok_tokenizer(name: str) -> Any | None:
    """quicktok's tokenizer for `name`, or None where quicktok or its data is missing."""
    try:
        import quicktok  # loaded on first bulk encoding, not with `ai`
    except ImportError:
        return None
    try:
        return quicktok.get_encoding(name)
    except (RuntimeError, KeyError, ValueError, OSError):
        return None


class QuicktokEncoder:
    """quicktok's C++ encoder: numpy ids, many texts encoded on every core."""

    def __init__(self, name: str, tokenizer: Any) -> None:
        self.name = name
        self._tokenizer = tokenizer

    def count(self, text: str) -> int:
        count: int = _without_surrogates_on_error(self._tokenizer.count, text)
        return count

    def encode_many(self, texts: Sequence[str]) -> list[TokenIds]:
        if not texts:
            return []
        ids, offsets = _without_surrogates_on_error(self._encode_batch, texts)
        bounds = offsets.tolist()
        return [ids[bounds[i] : bounds[i + 1]] for i in range(len(texts))]

    def _encode_batch(self, texts: Sequence[str]) -> tuple[TokenIds, npt.NDArray[np.int64]]:
        result: tuple[TokenIds, npt.NDArray[np.int64]] = self._tokenizer.encode_batch(
            list(texts), 0
        )
        return result

    def token_bytes(self) -> Sequence[bytes]:
        return _token_bytes(self._tokenizer)


class TiktokenEncoder:
    """tiktoken, for an encoding quicktok does not have (or without quicktok)."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.name = encoding.name
        self._encoding = encoding

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(_without_surrogates(text)))

    def encode_many(self, texts: Sequence[str]) -> list[TokenIds]:
        encoded = self._encoding.encode_ordinary_batch([_without_surrogates(t) for t in texts])
        return [np.asarray(ids, dtype=np.uint32) for ids in encoded]

    def token_bytes(self) -> Sequence[bytes]:
        return _token_bytes(self._encoding)


@functools.lru_cache(maxsize=8)
def _token_bytes(tokenizer: Any) -> tuple[bytes, ...]:
    """Every token's bytes by id, from quicktok's or tiktoken's tokenizer (both have
    `max_token_value` and `decode_single_token_bytes`); built once per tokenizer."""
    return tuple(
        _single_token_bytes(tokenizer, token) for token in range(tokenizer.max_token_value + 1)
    )


def _single_token_bytes(tokenizer: Any, token: int) -> bytes:
    try:
        token_bytes: bytes = tokenizer.decode_single_token_bytes(token)
    except KeyError:  # an id between the ordinary and the special tokens
        return b""
    return token_bytes


def _without_surrogates(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the same length)."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _without_surrogates_on_error(encode: Callable[[Any], _T], texts: Any) -> _T:
    """`encode(texts)`, retried without surrogates when UTF-8 cannot carry the input.

    quicktok rejects such strings at its boundary (TypeError); a text without surrogates
    costs nothing extra this way."""
    try:
        return encode(texts)
    except (TypeError, UnicodeEncodeError):
        if isinstance(texts, str):
            return encode(_without_surrogates(texts))
        return encode([_without_surrogates(text) for text in texts])
