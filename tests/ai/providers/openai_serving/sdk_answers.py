"""In-memory answers for the official `openai` SDK, made of bytes the serving code rendered.

An `httpx.MockTransport` stands where a server would be, so the SDK's own request
building, JSON decoding, SSE parsing and error mapping run on our output without a socket.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai

from ai.providers.openai_serving import JSON_MEDIA_TYPE, SSE_MEDIA_TYPE, dumps

Answer = Callable[[httpx.Request], httpx.Response]


def json_answer(body: object, status: int = 200) -> Answer:
    """Answer every request with `body` as JSON, with `status`."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": JSON_MEDIA_TYPE}
        return httpx.Response(status, content=dumps(body), headers=headers)

    return answer


def sse_answer(events: list[bytes]) -> Answer:
    """Answer every request with these SSE events as a stream."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": SSE_MEDIA_TYPE}
        return httpx.Response(200, content=b"".join(events), headers=headers)

    return answer


def sdk_client(answer: Answer) -> openai.OpenAI:
    """An `openai.OpenAI` client whose every request gets `answer(request)`; no retries."""
    http = httpx.Client(transport=httpx.MockTransport(answer))
    return openai.OpenAI(
        api_key="sk-test", base_url="http://serving.test/v1", http_client=http, max_retries=0
    )
