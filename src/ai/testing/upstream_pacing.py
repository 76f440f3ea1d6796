"""Answers at a model's own pace (see `latency.py` for what the pace is).

`timed_response` turns a built answer into a response that waits like the real upstream:
a stream's content events leave on a schedule of time to first token plus tokens per
second (counted from the text of each event), a JSON answer leaves whole once all its
output tokens would have been generated. Only answers without a fault are paced: a fault
decides its own timing (status faults answer at once, `slow_first_byte` and `trickle`
wait as they say).

Like `pacing.py`'s slow answers, these never outlive their client or the server: while
waiting they watch for the client hanging up and for uvicorn stopping, and then close the
socket and return.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ai.testing.faults import Fault
from ai.testing.latency import ModelLatency
from ai.testing.token_counting import count_tokens
from ai.testing.wire import DROP_CONNECTION, SERVER_STOPPING, JsonReply, Reply, StreamReply, deliver

_DISCONNECT_WAIT_S = 2.0
_TEXT_KEYS = frozenset({"content", "text", "thinking", "partial_json", "arguments", "reasoning"})
_USAGE_OUTPUT_KEYS = ("completion_tokens", "output_tokens")

Plan = Sequence[tuple[float, bytes]]
"""(seconds after the headers, bytes) for each write of a paced stream, in order."""


def timed_response(
    reply: Reply, fault: Fault | None, latency: ModelLatency | None
) -> Response | None:
    """The answer delivered at `latency`'s pace, or None when there is nothing to pace
    (no latency configured for the model, or a fault was drawn)."""
    if latency is None or fault is not None:
        return None
    normal = deliver(reply, None)
    if isinstance(reply, StreamReply):
        return PacedStream(stream_plan(reply, latency), normal, latency.min_gap)
    return DelayedAnswer(normal, latency.answer_time(json_output_tokens(reply)))


def stream_plan(reply: StreamReply, latency: ModelLatency) -> list[tuple[float, bytes]]:
    """When each event of `reply` is due: the events before the answer at once, the first
    content event at `ttft`, each later one once the tokens before it are generated, and
    the closing events with the last token (`ttft + output_tokens / tokens_per_second`)."""
    plan: list[tuple[float, bytes]] = [(0.0, reply.preamble)] if reply.preamble else []
    weights = iter(_token_weights([event.data for event in reply.events if event.content]))
    rate = latency.tokens_per_second
    generated = 0.0
    answering = False
    for event in reply.events:
        if event.content:
            answering = True
            plan.append((latency.ttft + generated / rate, event.data))
            generated += next(weights)
        else:
            plan.append((latency.ttft + generated / rate if answering else 0.0, event.data))
    return plan


def _token_weights(events: list[bytes]) -> list[float]:
    """The output tokens of each content event: their total is the tokens of the whole
    answer text, shared out by each event's own count (at least one each)."""
    texts = [event_text(event) for event in events]
    own = [max(1, count_tokens(text.strip())) for text in texts]
    total = count_tokens("".join(texts)) or sum(own)
    scale = total / sum(own) if own else 0.0
    return [count * scale for count in own]


def event_text(data: bytes) -> str:
    """The generated text one SSE event carries (text, thinking or tool-call arguments in
    its delta), in either wire format."""
    texts: list[str] = []
    for line in data.split(b"\n"):
        if line.startswith(b"data: "):
            try:
                _collect_text(json.loads(line[6:]), texts, inside_delta=False)
            except ValueError:
                continue
    return "".join(texts)


def _collect_text(value: Any, texts: list[str], *, inside_delta: bool) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if inside_delta and key in _TEXT_KEYS and isinstance(item, str):
                texts.append(item)
            else:
                _collect_text(item, texts, inside_delta=inside_delta or key == "delta")
    elif isinstance(value, list):
        for item in value:
            _collect_text(item, texts, inside_delta=inside_delta)


def json_output_tokens(reply: JsonReply) -> int:
    """The output tokens a JSON answer reports in its usage (0 when it reports none)."""
    usage = reply.body.get("usage") if isinstance(reply.body, dict) else None
    if not isinstance(usage, dict):
        return 0
    for key in _USAGE_OUTPUT_KEYS:
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


class _Watch:
    """Waits that end early when the client hangs up or the server stops."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._scope = scope
        self._gone = asyncio.ensure_future(_disconnected(receive))
        self._waiters: list[asyncio.Future[Any]] = [self._gone]
        stopping: asyncio.Event | None = scope.get(SERVER_STOPPING)
        if stopping is not None:
            self._waiters.append(asyncio.ensure_future(stopping.wait()))

    async def sleep(self, seconds: float) -> bool:
        """Wait `seconds`; False as soon as the client hangs up or the server stops."""
        if any(waiter.done() for waiter in self._waiters):
            return False
        done, _ = await asyncio.wait(
            self._waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        return not done

    async def hang_up(self) -> None:
        """Close the socket and wait (bounded) until uvicorn has seen it."""
        drop = self._scope.get(DROP_CONNECTION)
        if drop is not None:
            drop()
        await asyncio.wait([self._gone], timeout=_DISCONNECT_WAIT_S)

    async def close(self) -> None:
        for waiter in self._waiters:
            waiter.cancel()
        await asyncio.gather(*self._waiters, return_exceptions=True)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class DelayedAnswer(Response):
    """The normal answer, sent whole after `delay` seconds."""

    def __init__(self, normal: Response, delay: float) -> None:
        super().__init__(b"", normal.status_code)
        self.normal = normal
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = _Watch(scope, receive)
        try:
            if self.delay > 0 and not await watch.sleep(self.delay):
                await watch.hang_up()
                return
        finally:
            await watch.close()
        await self.normal(scope, receive, send)


class PacedStream(Response):
    """An SSE answer with the normal answer's status and headers, whose writes leave on
    `plan`'s schedule; writes due within `min_gap` of each other go out together."""

    def __init__(self, plan: Plan, normal: Response, min_gap: float) -> None:
        super().__init__(b"", normal.status_code)
        self.raw_headers = list(normal.raw_headers)
        self.plan = plan
        self.min_gap = min_gap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        watch = _Watch(scope, receive)
        try:
            for batch in _batches(self.plan, self.min_gap):
                delay, body = batch
                if delay > 0 and not await watch.sleep(delay):
                    await watch.hang_up()
                    return
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await watch.close()


def _batches(plan: Plan, min_gap: float) -> Iterable[tuple[float, bytes]]:
    """(seconds to wait now, bytes) for each write, on `plan`'s absolute schedule (a late
    write does not delay the ones after it): the writes due within `min_gap` of the first
    of a group, or already due, are sent as one."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    index = 0
    while index < len(plan):
        due = plan[index][0]
        horizon = max(due, loop.time() - began) + min_gap
        group = []
        while index < len(plan) and plan[index][0] <= horizon:
            group.append(plan[index][1])
            index += 1
        yield max(0.0, began + due - loop.time()), b"".join(group)
