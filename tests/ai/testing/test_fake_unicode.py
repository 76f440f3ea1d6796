"""Arbitrary unicode survives JSON and SSE intact, through the official SDKs.

Property-based: hypothesis picks the text, including line separators (U+2028, U+0085)
that naive SSE line splitting breaks on, and emoji outside the BMP.
"""

from __future__ import annotations

import anthropic
import openai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.testing import FakeProviderServer
from ai.testing.replies import default_text, stream_pieces

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80
).filter(lambda s: s.strip() != "")
tricky = st.sampled_from(
    ["\u2028", "\u2029", "\x85", "\r\n", "data: x\n\n", "\U0001f600", "<|endoftext|>"]
)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(pieces=st.lists(st.one_of(texts, tricky), min_size=1, max_size=4))
@SETTINGS
def test_openai_stream_and_json_round_trip(
    fake_server: FakeProviderServer, pieces: list[str]
) -> None:
    text = "".join(pieces)
    with openai.OpenAI(base_url=fake_server.openai_base_url, api_key=fake_server.api_key) as c:
        expected = default_text("gpt-4o-mini", text)
        whole = c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
        assert whole.choices[0].message.content == expected
        stream = c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True
        )
        streamed = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
        assert streamed == expected


@given(text=st.one_of(texts, tricky.filter(str.strip)))
@SETTINGS
def test_anthropic_stream_round_trip(fake_server: FakeProviderServer, text: str) -> None:
    with anthropic.Anthropic(
        base_url=fake_server.anthropic_base_url, api_key=fake_server.api_key
    ) as client:
        fake_server.replies.push(text)
        with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=4096, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            assert "".join(stream.text_stream) == text


@given(text=st.text(max_size=200))
def test_stream_pieces_concatenate_to_the_text(text: str) -> None:
    pieces = stream_pieces(text)
    assert "".join(pieces) == text
    assert all(pieces)
