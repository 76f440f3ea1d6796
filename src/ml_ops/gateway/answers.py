"""A finished `LLMService` call in OpenAI's terms: finish reason, tool calls, usage."""

from __future__ import annotations

from typing import Any

from ai.calls.stats import CompletionStats
from ai.providers.openai_serving import FinishReason, ToolCallOutput, usage_object


def finish_reason(stats: CompletionStats | None) -> FinishReason:
    """OpenAI's finish reason for a finished call ("stop" when the provider gave none)."""
    if stats is None:
        return FinishReason.STOP
    try:
        return FinishReason(stats.finish_reason or "stop")
    except ValueError:
        return FinishReason.TOOL_CALLS if stats.tool_calls else FinishReason.STOP


def tool_calls(stats: CompletionStats) -> tuple[ToolCallOutput, ...]:
    """The calls the model made, for `ChoiceOutput`."""
    calls = []
    for call in stats.tool_calls:
        function = call.get("function") or {}
        calls.append(
            ToolCallOutput(
                str(call.get("id") or ""),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    return tuple(calls)


def usage_of(stats: CompletionStats) -> dict[str, Any]:
    """OpenAI's `usage` object for a call."""
    return usage_object(
        stats.input_tokens,
        stats.output_tokens,
        cached_tokens=stats.cached_input_tokens,
        reasoning_tokens=stats.reasoning_tokens,
    )
