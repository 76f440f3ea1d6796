"""A finished chat answer rendered as OpenAI's `chat.completion` object.

The answer is described with plain values (`CompletionMeta` for the envelope, one
`ChoiceOutput` per choice, a usage dict from `usage_object`), so any server can render it:
the gateway from an `LLMService` result, the loopback fakes from their canned replies.
Field order follows api.openai.com's, which keeps answers byte-for-byte comparable.

Hosts that extend the format (OpenRouter names the upstream `provider`, repeats the finish
reason as `native_finish_reason`, and adds cost to `usage`) do it through `CompletionMeta`
and by adding keys to the usage dict; nothing here branches on a host's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FinishReason(StrEnum):
    """Why a choice ended, in OpenAI's words."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"


@dataclass(frozen=True, slots=True)
class CompletionMeta:
    """The envelope every object and chunk of one answer shares.

    `id` (`chatcmpl-...`), `model` and `created` (epoch seconds) are the caller's to choose.
    `provider`, when set, is added after `model` and `native_finish_reason` repeats each
    finish reason under that name, as OpenRouter does.
    """

    id: str
    model: str
    created: int
    system_fingerprint: str | None = None
    service_tier: str | None = "default"
    provider: str | None = None
    native_finish_reason: bool = False

    def head(self, object_type: str) -> dict[str, Any]:
        """`id`, `object`, `created`, `model` (and `provider`): how every answer starts."""
        head: dict[str, Any] = {
            "id": self.id,
            "object": object_type,
            "created": self.created,
            "model": self.model,
        }
        if self.provider is not None:
            head["provider"] = self.provider
        return head


@dataclass(frozen=True, slots=True)
class ToolCallOutput:
    """A function call the model made: its id (`call_...`), name and JSON arguments text."""

    id: str
    name: str
    arguments: str

    def to_json(self) -> dict[str, Any]:
        """OpenAI's `{"id", "type": "function", "function": {"name", "arguments"}}`."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ChoiceOutput:
    """One choice of an answer: text (None when the model only called tools), tool calls,
    and why it ended."""

    content: str | None
    finish_reason: FinishReason
    tool_calls: tuple[ToolCallOutput, ...] = ()


def usage_object(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> dict[str, Any]:
    """OpenAI's `usage` object with its detail blocks (cached tokens are a subset of the
    prompt tokens, reasoning tokens a subset of the completion tokens)."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_object(
    meta: CompletionMeta,
    choices: Sequence[ChoiceOutput],
    usage: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The full `chat.completion` JSON object; choice `i` gets index `i`."""
    return {
        **meta.head("chat.completion"),
        "choices": [_choice(meta, index, choice) for index, choice in enumerate(choices)],
        "usage": None if usage is None else dict(usage),
        "service_tier": meta.service_tier,
        "system_fingerprint": meta.system_fingerprint,
    }


def _choice(meta: CompletionMeta, index: int, choice: ChoiceOutput) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": choice.content,
        "refusal": None,
        "annotations": [],
    }
    if choice.tool_calls:
        message["tool_calls"] = [call.to_json() for call in choice.tool_calls]
    body: dict[str, Any] = {
        "index": index,
        "message": message,
        "logprobs": None,
        "finish_reason": choice.finish_reason.value,
    }
    if meta.native_finish_reason:
        body["native_finish_reason"] = choice.finish_reason.value
    return body
