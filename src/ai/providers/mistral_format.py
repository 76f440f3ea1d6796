"""OpenAI chat completions as Mistral's API takes them.

Mistral validates request bodies strictly and answers 422 `extra_forbidden` to
`stream_options`, which the OpenAI format sends to get usage at the end of a stream;
Mistral puts usage in its last chunk without being asked. Everything else is OpenAI's.
"""

from __future__ import annotations

from typing import Any

from ai.providers.base import ChatRequest
from ai.providers.openai_format import OpenAIChatFormat

__all__ = ["MistralChatFormat"]


class MistralChatFormat(OpenAIChatFormat):
    """The OpenAI wire format without `stream_options` (unless the caller sends it)."""

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        body = super().request_body(request)
        if "stream_options" not in request.extra:
            body.pop("stream_options", None)
        return body
