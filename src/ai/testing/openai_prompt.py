"""Prompt tokens of an OpenAI-format chat request, and OpenAI's automatic prompt caching.

Counting follows OpenAI's cookbook: 3 tokens per message plus its role and content, plus 3
to prime the reply; tool definitions are counted as their JSON.

Caching follows the documented behaviour closely enough to test cost accounting: prompts
of at least 1024 tokens are cached automatically; a later prompt that repeats a cached
prefix (here: whole tools block and whole messages, per model) reports the matched length,
rounded down to a multiple of 128, as `prompt_tokens_details.cached_tokens`. Cached tokens
stay inside `prompt_tokens`, unlike Anthropic's accounting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai.providers.openai_serving import dumps
from ai.testing.state import PromptCache
from ai.testing.token_counting import count_tokens

MIN_CACHED_PROMPT = 1024
CACHE_INCREMENT = 128
_IMAGE_TOKENS = 85
_PRIMING_TOKENS = 3
_PER_MESSAGE_TOKENS = 3


@dataclass(frozen=True, slots=True)
class PromptAccount:
    """Prompt tokens and the part of them served from the prompt cache."""

    prompt_tokens: int
    cached_tokens: int = 0


def content_text(content: object) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _message_tokens(message: Mapping[str, Any]) -> int:
    total = _PER_MESSAGE_TOKENS + count_tokens(str(message.get("role", "")))
    content = message.get("content")
    total += count_tokens(content_text(content))
    if isinstance(content, list):
        total += _IMAGE_TOKENS * sum(
            1 for part in content if isinstance(part, dict) and part.get("type") != "text"
        )
    if isinstance(message.get("name"), str):
        total += 1 + count_tokens(message["name"])
    if message.get("tool_calls"):
        total += count_tokens(dumps(message["tool_calls"]).decode("utf-8"))
    return total


def account_prompt(body: Mapping[str, Any], model: str, cache: PromptCache | None) -> PromptAccount:
    """Count the prompt and, for long prompts, look up and record its cached prefixes."""
    tools = body.get("tools")
    total = _PRIMING_TOKENS
    if tools:
        total += count_tokens(dumps(tools).decode("utf-8"))
    boundaries: list[int] = []
    for message in body["messages"]:
        total += _message_tokens(message)
        boundaries.append(total)
    if cache is None or total < MIN_CACHED_PROMPT:
        return PromptAccount(total)
    hasher = hashlib.blake2b(b"openai\x00" + model.encode("utf-8"), digest_size=16)
    hasher.update(dumps(tools or []))
    prefixes: list[tuple[str, int]] = []
    for message, tokens in zip(body["messages"], boundaries, strict=True):
        hasher.update(b"\x00" + dumps(message))
        if tokens >= MIN_CACHED_PROMPT:
            prefixes.append((hasher.hexdigest(), tokens))
    read, _ = cache.account(prefixes)
    cached = read // CACHE_INCREMENT * CACHE_INCREMENT if read >= MIN_CACHED_PROMPT else 0
    return PromptAccount(total, cached)
