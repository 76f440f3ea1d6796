"""Server-sent events: line splitting and event grouping by the WHATWG event-stream rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.providers.base import MalformedResponse
from ai.providers.sse import EventTooLarge, ServerSentEvent, iter_lines, iter_sse


async def aiter(items: Iterable[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


async def events_of_lines(lines: Iterable[str]) -> list[ServerSentEvent]:
    return [event async for event in iter_sse(aiter(lines))]


async def lines_of_chunks(chunks: Iterable[str]) -> list[str]:
    return [line async for line in iter_lines(aiter(chunks))]


async def events_of_bytes(chunks: list[bytes]) -> list[ServerSentEvent]:
    """Parse the way the service does: an httpx response, decoded, split, grouped."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    response = httpx.Response(200, content=body())
    return [event async for event in iter_sse(iter_lines(response.aiter_text()))]


# --- iter_sse over lines ------------------------------------------------------------------


async def test_openai_style_data_events() -> None:
    lines = ['data: {"a":1}', "", 'data: {"a":2}', "", "data: [DONE]", ""]
    assert await events_of_lines(lines) == [
        ServerSentEvent(None, '{"a":1}'),
        ServerSentEvent(None, '{"a":2}'),
        ServerSentEvent(None, "[DONE]"),
    ]


async def test_event_names_apply_to_their_event_only() -> None:
    lines = [
        "event: message_start",
        'data: {"type":"message_start"}',
        "",
        'data: {"no":"name"}',
        "",
        "event: ping",
        'data: {"type": "ping"}',
        "",
    ]
    assert await events_of_lines(lines) == [
        ServerSentEvent("message_start", '{"type":"message_start"}'),
        ServerSentEvent(None, '{"no":"name"}'),
        ServerSentEvent("ping", '{"type": "ping"}'),
    ]


async def test_comments_are_skipped() -> None:
    lines = [": OPENROUTER PROCESSING", "", ":keep-alive", "data: x", ": inside", "data: y", ""]
    assert await events_of_lines(lines) == [ServerSentEvent(None, "x\ny")]


async def test_multi_line_data_is_joined_with_newlines() -> None:
    lines = ["data: first", "data: second", "data:", "data: fourth", ""]
    assert await events_of_lines(lines) == [ServerSentEvent(None, "first\nsecond\n\nfourth")]


async def test_field_without_space_and_only_one_space_removed() -> None:
    lines = ["event:delta", "data:x", "", "data:  two spaces", "", "data:\tx", ""]
    assert await events_of_lines(lines) == [
        ServerSentEvent("delta", "x"),
        ServerSentEvent(None, " two spaces"),
        ServerSentEvent(None, "\tx"),
    ]


async def test_field_name_without_colon_has_empty_value() -> None:
    assert await events_of_lines(["data", "data", ""]) == [ServerSentEvent(None, "\n")]


async def test_value_keeps_later_colons() -> None:
    lines = ['data: {"url":"http://x:1"}', ""]
    assert await events_of_lines(lines) == [ServerSentEvent(None, '{"url":"http://x:1"}')]


async def test_crlf_terminated_lines() -> None:
    lines = ["event: e\r\n", "data: a\r\n", "\r\n", "data: b\r\n", "\r\n"]
    assert await events_of_lines(lines) == [
        ServerSentEvent("e", "a"),
        ServerSentEvent(None, "b"),
    ]


async def test_missing_trailing_blank_line_still_dispatches() -> None:
    assert await events_of_lines(["data: a", "", "event: last", "data: b"]) == [
        ServerSentEvent(None, "a"),
        ServerSentEvent("last", "b"),
    ]


async def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert await events_of_lines(["", "", "event: lonely", "", "id: 7", "retry: 10", ""]) == []


async def test_event_name_does_not_leak_into_the_next_event() -> None:
    # An `event:` with no data is dropped at the blank line, and so is its name.
    lines = ["event: orphan", "", "data: x", ""]
    assert await events_of_lines(lines) == [ServerSentEvent(None, "x")]


async def test_unknown_fields_and_leading_space_names_are_ignored() -> None:
    lines = ["id: 1", "retry: 5000", " data: not a data field", "foo: bar", "data: ok", ""]
    assert await events_of_lines(lines) == [ServerSentEvent(None, "ok")]


async def test_empty_data_line_dispatches_an_empty_event() -> None:
    # WHATWG: the data buffer is "\n" before its last LF is removed, so it dispatches.
    assert await events_of_lines(["data:", ""]) == [ServerSentEvent(None, "")]


# --- iter_lines ---------------------------------------------------------------------------


async def test_lines_split_at_lf_crlf_and_cr() -> None:
    assert await lines_of_chunks(["a\nb\r\nc\rd"]) == ["a", "b", "c", "d"]


async def test_blank_lines_are_kept() -> None:
    assert await lines_of_chunks(["data: a\n\ndata: b\r\n\r\n"]) == ["data: a", "", "data: b", ""]


async def test_lines_across_chunks() -> None:
    assert await lines_of_chunks(["da", "ta: x", "y\nda", "", "ta: z\n"]) == [
        "data: xy",
        "data: z",
    ]


async def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert await lines_of_chunks(["data: a\r", "\ndata: b\r", "\n\r", "\n"]) == [
        "data: a",
        "data: b",
        "",
    ]


async def test_cr_at_chunk_end_then_other_text() -> None:
    assert await lines_of_chunks(["a\r", "b\r", "", "\r", "c"]) == ["a", "b", "", "c"]


async def test_unicode_line_separators_are_not_line_ends() -> None:
    # Raw U+2028 and friends are legal inside JSON strings; only CR and LF end SSE lines.
    text = 'data: {"t":"a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"}\n\n'
    assert await lines_of_chunks([text]) == [text[:-2], ""]


async def test_unterminated_last_line_is_yielded() -> None:
    assert await lines_of_chunks(["a\nb"]) == ["a", "b"]
    assert await lines_of_chunks([]) == []


def reference_lines(text: str) -> list[str]:
    """Lines by the event-stream grammar, character by character."""
    lines, current, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char in "\r\n":
            lines.append(current)
            current = ""
            if text[i : i + 2] == "\r\n":
                i += 1
        else:
            current += char
        i += 1
    if current:
        lines.append(current)
    return lines


@given(
    text=st.text(st.sampled_from(["a", "b", "\r", "\n", "\u2028", "\x85", " "]), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
async def test_lines_do_not_depend_on_chunking(text: str, cuts: list[int]) -> None:
    points = sorted({min(cut, len(text)) for cut in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert await lines_of_chunks(chunks) == reference_lines(text)


async def test_httpx_response_with_raw_line_separator_in_json() -> None:
    body = 'data: {"delta":"x\u2028y"}\n\ndata: [DONE]\n\n'.encode()
    assert await events_of_bytes([body]) == [
        ServerSentEvent(None, '{"delta":"x\u2028y"}'),
        ServerSentEvent(None, "[DONE]"),
    ]


# --- round trip ---------------------------------------------------------------------------

LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
NO_NEWLINES = st.text(st.characters(blacklist_characters="\r\n", codec="utf-8"))
EVENTS = st.lists(
    st.tuples(st.none() | NO_NEWLINES, NO_NEWLINES),
    max_size=8,
)


def encode(events: list[tuple[str | None, str]], line_end: str) -> str:
    parts = []
    for name, data in events:
        if name is not None:
            parts.append(f"event: {name}{line_end}")
        parts.append(f"data: {data}{line_end}{line_end}")
    return "".join(parts)


@given(events=EVENTS, line_end=LINE_ENDS, cuts=st.lists(st.integers(min_value=0), max_size=6))
async def test_encoded_events_round_trip_through_bytes_in_any_chunking(
    events: list[tuple[str | None, str]], line_end: str, cuts: list[int]
) -> None:
    raw = encode(events, line_end).encode("utf-8")
    points = sorted({cut % (len(raw) + 1) for cut in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    parsed = await events_of_bytes(chunks)
    assert parsed == [ServerSentEvent(name, data) for name, data in events]


@given(
    events=st.lists(
        st.tuples(st.none() | NO_NEWLINES, st.lists(NO_NEWLINES, min_size=1, max_size=4)),
        max_size=5,
    )
)
async def test_multi_line_data_round_trips(events: list[tuple[str | None, list[str]]]) -> None:
    text = "".join(
        (f"event: {name}\n" if name is not None else "")
        + "".join(f"data: {line}\n" for line in lines)
        + "\n"
        for name, lines in events
    )
    parsed = [event async for event in iter_sse(iter_lines(aiter([text])))]
    assert parsed == [ServerSentEvent(name, "\n".join(lines)) for name, lines in events]


async def test_a_long_line_in_many_chunks_is_joined_once_and_kept_whole() -> None:
    line = "data: " + "x" * 3_000_000
    chunks = [line[i : i + 997] for i in range(0, len(line), 997)] + ["\n\n"]
    lines = [x async for x in iter_lines(aiter(chunks))]
    assert lines == [line, ""]


async def test_a_line_over_the_cap_is_a_typed_error() -> None:
    chunks = ["data: " + "x" * 1000] * 20
    with pytest.raises(EventTooLarge, match="longer than 5,000"):
        async for _ in iter_lines(aiter(chunks), max_line_chars=5000):
            pass


async def test_an_event_of_many_lines_over_the_cap_is_a_typed_error() -> None:
    lines = ["data: " + "y" * 100] * 100
    with pytest.raises(EventTooLarge, match="stream event"):
        async for _ in iter_sse(aiter(lines), max_event_chars=5000):
            pass
    assert issubclass(EventTooLarge, MalformedResponse)


async def test_a_byte_order_mark_opening_the_stream_is_dropped() -> None:
    """The event-stream rules decode with a BOM stripped; kept, it hides the first
    field's name and the first event is lost."""
    chunks = [b"\xef\xbb", b"\xbfdata: first\n\n", b"data: \xef\xbb\xbfsecond\n\n"]
    assert await events_of_bytes(chunks) == [
        ServerSentEvent(None, "first"),
        ServerSentEvent(None, "\ufeffsecond"),  # only the stream's opening one goes
    ]
    assert await lines_of_chunks(["", "\ufeffdata: x", "\n"]) == ["data: x"]
    assert await lines_of_chunks(["data: x\n", "\ufeffdata: y\n"]) == ["data: x", "\ufeffdata: y"]
