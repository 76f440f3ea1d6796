"""JSON encoding and SSE framing: compact, one line per event, readable by SSE parsers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from hypothesis import given
from hypothesis import strategies as st

from ai.providers.openai_serving import SSE_DONE, dumps, sse_data
from ai.providers.sse import iter_lines, iter_sse


def test_dumps_is_compact_utf8() -> None:
    assert dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()


def test_dumps_escapes_characters_that_splitlines_breaks_at() -> None:
    encoded = dumps({"t": "a\u2028b\u2029c\x85d"})
    assert encoded == b'{"t":"a\\u2028b\\u2029c\\u0085d"}'
    assert len(encoded.decode("utf-8").splitlines()) == 1
    assert json.loads(encoded) == {"t": "a\u2028b\u2029c\x85d"}


def test_dumps_survives_lone_surrogates() -> None:
    encoded = dumps({"t": "x\ud800y"})
    assert encoded == b'{"t":"x\\ud800y"}'
    assert json.loads(encoded) == {"t": "x\ud800y"}


def test_sse_data_is_one_event() -> None:
    assert sse_data({"a": 1}) == b'data: {"a":1}\n\n'
    assert SSE_DONE == b"data: [DONE]\n\n"


async def _events(body: bytes) -> list[str]:
    async def chunks() -> AsyncIterator[bytes]:
        yield body

    response = httpx.Response(200, content=chunks())
    return [event.data async for event in iter_sse(iter_lines(response.aiter_text()))]


@given(st.lists(st.text(), max_size=4))
async def test_any_text_survives_sse_framing(texts: list[str]) -> None:
    body = b"".join(sse_data({"t": text}) for text in texts) + SSE_DONE
    events = await _events(body)
    assert events[-1] == "[DONE]"
    assert [json.loads(event)["t"] for event in events[:-1]] == texts
