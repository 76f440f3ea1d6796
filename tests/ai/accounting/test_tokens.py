"""Token counting: exact counts per encoding, chat overhead, offline guarantees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.tokens import (
    IMAGE_TOKENS_ESTIMATE,
    IMAGE_TOKENS_LOW_DETAIL,
    EncodingName,
    TokenCount,
    count_message_tokens,
    count_tokens,
    encoding_for_model,
    split_for_counting,
)

SRC = Path(__file__).resolve().parents[2] / "src"

# (text, o200k tokens, cl100k tokens). "hello world" and "tiktoken is great!" are the
# counts from OpenAI's tiktoken cookbook; the others separate the two encodings and were
# checked with quicktok's independent C++ encoder (see test_o200k_matches_quicktok).
KNOWN_COUNTS = [
    ("hello world", 2, 2),
    ("tiktoken is great!", 6, 6),
    ("", 0, 0),
    ("日本語のテキストです。", 8, 10),
    ("Привет, мир!", 5, 7),
    ("I'm here, you're there; they'll've", 8, 11),
    ("🚀🎉 emoji test", 6, 8),
    ("def f(x):\n    return x ** 2\n", 11, 11),
]

# The cookbook's example conversation; the API reported 129 prompt tokens for gpt-3.5-turbo
# and gpt-4, 124 for gpt-4o and gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


@pytest.mark.parametrize(("text", "o200k", "cl100k"), KNOWN_COUNTS)
def test_known_counts_per_encoding(text: str, o200k: int, cl100k: int) -> None:
    assert count_tokens(text, "gpt-4o") == TokenCount(o200k, "o200k_base", estimated=False)
    assert count_tokens(text, "gpt-4") == TokenCount(cl100k, "cl100k_base", estimated=False)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("OpenAI/GPT-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
    ],
)
def test_openai_families_are_exact(model: str, encoding: str) -> None:
    count = count_tokens("Привет, мир!", model)
    assert count.encoding == encoding
    assert not count.estimated


@pytest.mark.parametrize(
    "model",
    [
        "claude-3-5-sonnet-20241022",
        "anthropic/claude-sonnet-4.5",
        "meta-llama/llama-3.1-8b-instruct",
        "google/gemini-flash-1.5",
        "gemini-2.5-pro",
        "some-model-nobody-knows",
        "o1x",  # not the o1 family: no separator after the prefix
    ],
)
def test_other_models_are_estimates(model: str) -> None:
    count = count_tokens("Привет, мир!", model)
    assert count == TokenCount(7, "cl100k_base", estimated=True)


def test_special_token_markers_in_user_text_count_as_text() -> None:
    count = count_tokens("<|endoftext|>", "gpt-4o")
    assert count.tokens > 1  # not the single special token, and no exception


def test_encoding_for_model_round_trips() -> None:
    model_encoding = encoding_for_model("gpt-4.1")
    assert model_encoding.name is EncodingName.O200K_BASE
    ids = model_encoding.encoding.encode_ordinary("round trip ✓")
    assert model_encoding.encoding.decode(ids) == "round trip ✓"
    assert model_encoding.encoding.n_vocab == 200019


def test_o200k_matches_quicktok() -> None:
    """Our tiktoken-built o200k gives the same ids as quicktok's own C++ encoder."""
    quicktok = pytest.importorskip("quicktok")
    reference = quicktok.get_encoding("o200k_base")
    ours = encoding_for_model("gpt-4o").encoding
    samples = [text for text, _, _ in KNOWN_COUNTS] + [
        Path(__file__).read_text(encoding="utf-8"),
        "Ünïcödé — façade naïve coöperate; ÀÉÎÕÜ 한국어 العربية हिन्दी",
        "  trailing spaces   \n\n\tand tabs\r\n",
    ]
    for text in samples:
        assert ours.encode_ordinary(text) == list(reference.encode_ordinary(text))


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_message_overhead_matches_openai_cookbook(model: str, expected: int) -> None:
    count = count_message_tokens(COOKBOOK_MESSAGES, model)
    assert count.tokens == expected
    assert not count.estimated


def test_message_overhead_arithmetic() -> None:
    def text(value: str) -> int:
        return count_tokens(value, "gpt-4o").tokens

    assert count_message_tokens([], "gpt-4o").tokens == 3  # reply priming only
    plain = count_message_tokens([{"role": "user", "content": "Hi there"}], "gpt-4o")
    assert plain.tokens == 3 + (3 + text("user") + text("Hi there"))
    named = count_message_tokens(
        [{"role": "user", "name": "alice", "content": "Hi there"}], "gpt-4o"
    )
    assert named.tokens == plain.tokens + text("alice") + 1


def test_content_parts_text_and_images() -> None:
    as_string = count_message_tokens([{"role": "user", "content": "Describe this"}], "gpt-4o")
    text_part = {"type": "text", "text": "Describe this"}
    as_parts = count_message_tokens([{"role": "user", "content": [text_part]}], "gpt-4o")
    assert as_parts == as_string

    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    low = {"type": "image_url", "image_url": {"url": "data:...", "detail": "low"}}
    with_image = count_message_tokens(
        [{"role": "user", "content": [text_part, image, low]}], "gpt-4o"
    )
    assert with_image.tokens == as_string.tokens + IMAGE_TOKENS_ESTIMATE + IMAGE_TOKENS_LOW_DETAIL
    assert with_image.estimated


def test_tool_calls_count_their_json() -> None:
    function = {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'}
    messages: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "function": function}],
        }
    ]
    count = count_message_tokens(messages, "gpt-4o")
    function_json = json.dumps(function, separators=(",", ":"))
    expected = 3 + 3 + count_tokens("assistant", "gpt-4o").tokens
    expected += count_tokens(function_json, "gpt-4o").tokens
    assert count.tokens == expected
    assert count.estimated  # tool framing is not published exactly


def test_counting_does_not_touch_tiktoken_environment() -> None:
    before = {k: v for k, v in os.environ.items() if k.startswith(("TIKTOKEN", "DATA_GYM"))}
    count_tokens("x", "gpt-4o")
    count_tokens("x", "gpt-4")
    after = {k: v for k, v in os.environ.items() if k.startswith(("TIKTOKEN", "DATA_GYM"))}
    assert after == before


_NO_NETWORK_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    # PRELUDE
    from ai.accounting.tokens import count_tokens
    out = {}
    for model in ("gpt-4o", "gpt-4", "claude-sonnet-4-5", "gpt-5-nano"):
        c = count_tokens("Привет, мир!", model)
        out[model] = [c.tokens, c.encoding, c.estimated]
    print(json.dumps(out))
    """
)


def _run_offline(tmp_path: Path, prelude: str = "") -> dict[str, list[Any]]:
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    unroutable = "http://127.0.0.1:9"  # discard port: nothing answers there
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache_dir),
        "HTTPS_PROXY": unroutable,
        "HTTP_PROXY": unroutable,
        "ALL_PROXY": unroutable,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    script = _NO_NETWORK_SCRIPT.replace("# PRELUDE", prelude)
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, list[Any]] = json.loads(result.stdout)
    return parsed


def test_counts_offline_with_empty_tiktoken_cache(tmp_path: Path) -> None:
    counts = _run_offline(tmp_path)
    assert counts == {
        "gpt-4o": [5, "o200k_base", False],
        "gpt-4": [7, "cl100k_base", False],
        "claude-sonnet-4-5": [7, "cl100k_base", True],
        "gpt-5-nano": [5, "o200k_base", False],
    }


def test_without_quicktok_o200k_models_fall_back_to_estimates(tmp_path: Path) -> None:
    counts = _run_offline(tmp_path, prelude="sys.modules['quicktok'] = None")
    assert counts["gpt-4o"] == [7, "cl100k_base", True]
    assert counts["gpt-4"] == [7, "cl100k_base", False]


_models = st.sampled_from(["gpt-4o", "gpt-4", "claude-3-haiku"])


@settings(deadline=None, max_examples=300)
@given(a=st.text(max_size=200), b=st.text(max_size=200), model=_models)
def test_counts_add_up_across_a_line_break_before_a_letter(a: str, b: str, model: str) -> None:
    # A newline followed by a letter is always a pre-token boundary in cl100k and o200k, so
    # the two sides are encoded independently. (Across an arbitrary boundary BPE may
    # re-split: "Delta" and "bf" are 1 token each, "Deltabf" is 4.)
    head, tail = a + "\n", "Z" + b
    whole = count_tokens(head + tail, model).tokens
    assert whole == count_tokens(head, model).tokens + count_tokens(tail, model).tokens


@settings(deadline=None, max_examples=200)
@given(text=st.text(max_size=300), model=_models)
def test_counts_are_never_negative_and_bounded_by_bytes(text: str, model: str) -> None:
    tokens = count_tokens(text, model).tokens
    assert 0 <= tokens <= len(text.encode("utf-8"))
    assert (tokens == 0) == (text == "")


@pytest.mark.parametrize("text", [" " * 2_000_000, "a" * 2_000_000, "word " * 400_000])
def test_huge_texts_are_counted_without_crashing_the_tokenizer(text: str) -> None:
    # tiktoken alone panics (a Rust panic, not an Exception) on ~1.6M spaces and slows
    # down super-linearly on long runs of one letter; counting in segments avoids both.
    count = count_tokens(text, "gpt-4o-mini")
    assert 0 < count.tokens <= len(text)


def test_segmented_counts_equal_whole_counts_where_cuts_are_exact() -> None:
    text = " ".join(f"token{i} and some words" for i in range(3000))
    segments, exact = split_for_counting(text)
    assert exact and len(segments) > 1 and "".join(segments) == text
    encoding = encoding_for_model("gpt-4o-mini")
    assert count_tokens(text, "gpt-4o-mini").tokens == len(encoding.encoding.encode_ordinary(text))
