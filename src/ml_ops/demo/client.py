"""The tour's users calling the gateway with the official `openai` SDK, one `AsyncOpenAI`
per virtual key, `base_url` the gateway's `/v1`.

The SDK's own retries are off (`max_retries=0`): every failure the gateway answers is
counted as an error the user saw, so the summary's "errors seen by users" measures the
gateway's resilience alone. Each call's latency is what the user waited, from sending the
request to the last byte; for streams also the time to the first text.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openai import AsyncOpenAI


def _sdk() -> Any:
    try:
        import openai
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "devora demo calls the gateway with the openai SDK: pip install 'devora-ai[demo]'"
        ) from error
    return openai


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one user saw for one call."""

    stream: str
    user: str
    alias: str
    streamed: bool
    at: float
    latency_s: float
    ttft_s: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class GatewayClients:
    """An `AsyncOpenAI` per user, each with that user's virtual key."""

    def __init__(self, api_url: str, keys: Mapping[str, str], timeout: float = 120.0) -> None:
        openai = _sdk()
        self._clients: dict[str, AsyncOpenAI] = {
            user: openai.AsyncOpenAI(base_url=api_url, api_key=key, max_retries=0, timeout=timeout)
            for user, key in keys.items()
        }
        self._error = openai.OpenAIError
        self._status_error = openai.APIStatusError

    async def ask(
        self,
        stream: str,
        user: str,
        alias: str,
        messages: Sequence[Mapping[str, str]],
        *,
        at: float,
        streamed: bool = False,
        max_tokens: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> CallResult:
        """One chat completion through the gateway; failures come back as the result's
        `error` (`HTTP 503`, `APIConnectionError`...), never raised."""
        client = self._clients[user]
        options: dict[str, Any] = {"model": alias, "messages": list(messages)}
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        if metadata:
            options["metadata"] = dict(metadata)
        started = time.monotonic()
        first: float | None = None
        try:
            if streamed:
                answer = await client.chat.completions.create(
                    **options, stream=True, stream_options={"include_usage": True}
                )
                async for chunk in answer:
                    if first is None and chunk.choices and chunk.choices[0].delta.content:
                        first = time.monotonic()
            else:
                await client.chat.completions.create(**options)
        except self._error as error:
            waited = time.monotonic() - started
            return CallResult(stream, user, alias, streamed, at, waited, None, self._name(error))
        ttft = None if first is None else first - started
        return CallResult(stream, user, alias, streamed, at, time.monotonic() - started, ttft)

    def _name(self, error: Exception) -> str:
        if isinstance(error, self._status_error):
            return f"HTTP {error.status_code}"
        return type(error).__name__

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


__all__ = ["CallResult", "GatewayClients"]
