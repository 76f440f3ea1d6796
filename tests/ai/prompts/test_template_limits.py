"""Templates in linear time, and typed errors for any input.

- building and rendering are linear in the number of placeholders (20,000 of them; the
  declaration check was quadratic and took seconds at 8,000);
- `estimate` and `TemplateManager.render` are linear in the size of a value (10 MB);
- a value Python cannot write out (an integer of more than 4,300 digits) and any other bad
  input is a `TemplateError`, never a `ValueError`, `TypeError` or `OverflowError`.

No timing assertions: the inputs are big enough that quadratic work would take minutes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.accounting.tokens import count_message_tokens, count_tokens
from ai.errors import TemplateError
from ai.prompts import (
    PromptMessage,
    PromptTemplate,
    RenderedPrompt,
    TemplateManager,
    TemplateVariable,
)
from ai.prompts.prompt_tokens import count_messages, count_text, split_for_counting
from ai.prompts.stores.memory import MemoryTemplateStore

TEN_MB = 10 * 1024 * 1024
PARAGRAPH = "Prices rose 3.5% in May; the index stood at 1,024 points (see note 7).\n"


def paragraphs(size: int) -> tuple[str, int]:
    """About `size` characters of prose, and how many paragraphs it holds."""
    count = size // len(PARAGRAPH) + 1
    return PARAGRAPH * count, count


# --- many placeholders --------------------------------------------------------------------------


def test_a_template_with_20000_placeholders_builds_and_renders() -> None:
    names = [f"v{i}" for i in range(20_000)]
    text = "\n".join(f"{name}={{{name}}}" for name in names)
    template = PromptTemplate(name="wide", text=text)
    assert template.variable_names == tuple(names)
    rendered = template.render({name: i for i, name in enumerate(names)})
    assert rendered.text is not None
    assert rendered.text.splitlines()[-1] == "v19999=19999"
    again = PromptTemplate.from_dict(template.to_dict())
    assert again == template


def test_declaration_checks_on_60000_placeholders_stay_linear() -> None:
    """Quadratic checks took 4 s at 8,000 placeholders and 23 s at 20,000: minutes here."""
    names = [f"v{i}" for i in range(60_000)]
    text = " ".join(f"{{{name}}}" for name in names)
    declared = tuple(TemplateVariable(name) for name in [*names[1:], "extra", "extra"])
    with pytest.raises(TemplateError, match=r"declared twice: \['extra'\]"):
        PromptTemplate(name="wide", text=text, variables=declared)
    with pytest.raises(TemplateError, match=r"placeholder\(s\) \['v0'\] are not declared"):
        PromptTemplate(name="wide", text=text, variables=declared[:-1])


# --- big values ---------------------------------------------------------------------------------


def test_estimate_of_a_10_mb_value_counts_every_token() -> None:
    template = PromptTemplate(name="digest", text="Summarise:\n{document}")
    document, count = paragraphs(TEN_MB)
    estimate = template.render(document=document).estimate("gpt-4o-mini")
    per_paragraph = count_tokens(PARAGRAPH, "gpt-4o-mini").tokens
    head = count_tokens("Summarise:\n", "gpt-4o-mini").tokens
    # Sent as one user message: its chat framing counts too.
    framing = count_message_tokens([{"role": "user", "content": ""}], "gpt-4o-mini").tokens
    assert estimate.input_tokens == framing + head + count * per_paragraph
    assert estimate.estimated is False


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "claude-sonnet-4"])
async def test_rendering_and_estimating_10_mb_of_one_character_or_of_spaces(model: str) -> None:
    """Runs without a break: tiktoken's cost on one such piece grows faster than its length,
    and a run of a few million spaces overflowed its regex engine's stack (a panic)."""
    chat = PromptTemplate(
        name="digest",
        messages=(
            PromptMessage("system", "You summarise documents."),
            PromptMessage("user", "Summarise:\n{document}\n\nNotes: {notes}"),
        ),
    )
    manager = TemplateManager(MemoryTemplateStore(), builtins=False)
    await manager.save(chat)
    prose, _ = paragraphs(TEN_MB // 2)
    document = prose + " " * (3 * 1024 * 1024) + "a" * (2 * 1024 * 1024)
    rendered = await manager.render("digest", document=document, notes="none")
    assert rendered.version == 1
    assert len(rendered.as_messages()[1]["content"]) > TEN_MB
    estimate = rendered.estimate(model)
    assert estimate.estimated is True  # the runs had to be cut where no piece starts
    small = count_message_tokens(
        [
            {"role": "system", "content": "You summarise documents."},
            {"role": "user", "content": ""},
        ],
        model,
    ).tokens
    assert small + len(document) // 8 < estimate.input_tokens < small + len(document)


def test_segmenting_at_piece_starts_keeps_counts_exact() -> None:
    text = (PARAGRAPH + "word  spaced\ttabs\r\nand 'quotes' éà 中文 😀 x\u00a0y ") * 300
    for model in ("gpt-4o-mini", "gpt-4"):
        for size in (40, 64, 1000):
            segments, exact = split_for_counting(text, size)
            assert "".join(segments) == text and exact
            assert max(map(len, segments)) <= size
            assert count_text(text, model, size).tokens == count_tokens(text, model).tokens
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
        assert count_messages(messages, model, 50) == count_message_tokens(messages, model)


_pieces = st.sampled_from(
    ["a", "Bc", " ", "  ", "\n", "\t", "\r\n", "7", "123", "!", "?!", "'s", "'LL", "é", "中",
     "😀", ".", " '", "\u00a0", "\u2003", "\x1c", "\u200b", "Hello", " world", "n't", "/"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_pieces, max_size=200).map("".join), size=st.integers(2, 40))
def test_counts_by_segment_equal_counts_of_the_whole(text: str, size: int) -> None:
    for model in ("gpt-4o-mini", "gpt-4"):
        whole = count_tokens(text, model)
        counted = count_text(text, model, size)
        segments, exact = split_for_counting(text, size)
        assert "".join(segments) == text
        assert all(len(segment) <= size for segment in segments)
        if exact:
            assert counted == whole
        else:
            assert counted.estimated and abs(counted.tokens - whole.tokens) <= 2 * len(segments)


# --- values Python cannot write out, and other bad input ----------------------------------------


@pytest.mark.parametrize("kind", ["text", "integer", "number"])
def test_an_integer_too_long_to_write_is_a_template_error(kind: str) -> None:
    template = PromptTemplate(name="n", text="{n}", variables=(TemplateVariable("n", type=kind),))
    with pytest.raises(TemplateError, match="'n': an integer of 16610 bits has more digits"):
        template.render(n=10**5000)
    assert template.render(n=10**4000).text == str(10**4000)
    assert template.render(n=-(10**400)).text == str(-(10**400))


def test_long_integers_fail_as_template_errors_everywhere() -> None:
    listing = PromptTemplate(
        name="l", text="{xs}", variables=(TemplateVariable("xs", type="list"),)
    )
    with pytest.raises(TemplateError, match=r"'xs\[1\]': an integer"):
        listing.render(xs=["a", 10**5000])
    with pytest.raises(TemplateError, match="an integer of 16610 bits"):
        TemplateVariable("n", type="integer", default=10**5000)
    with pytest.raises(TemplateError, match="variable name <an integer of 16610 bits>"):
        TemplateVariable(10**5000)  # type: ignore[arg-type]
    with pytest.raises(TemplateError, match="template name <an integer of 16610 bits>"):
        PromptTemplate(name=10**5000, text="x")  # type: ignore[arg-type]
    with pytest.raises(TemplateError, match="`description` must be text"):
        PromptTemplate.from_dict({"name": "x", "text": "x", "description": 10**5000})
    with pytest.raises(TemplateError, match="output_tokens must be an integer"):
        RenderedPrompt(name="x", text="hi").estimate("gpt-4o-mini", output_tokens=10**5000)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TemplateVariable("a", max_length="5"), "max_length must be an integer >= 1"),
        (lambda: TemplateVariable("a", choices=5), "choices must be a list of text"),
        (lambda: TemplateVariable("a", choices=(1, 2)), "choice 1 is not text"),
        (lambda: TemplateVariable("a", description=5), "description must be text"),
        (lambda: PromptTemplate(name="x", text="{a}", variables=("a",)), "not a TemplateVariable"),
        (lambda: PromptTemplate(name="x", text="{a}", variables=5), "must be a list of Template"),
        (lambda: PromptTemplate(name="x", text="a", tags=5), "`tags` must be a list"),
        (lambda: PromptTemplate(name="x", text="{a}", example=[1]), "`example` must be a mapping"),
        (lambda: PromptTemplate(name="x", text="a", model_hints={}), "must be a ModelHints"),
        (lambda: PromptTemplate(name="x", messages=5), "`messages` must be a list"),
        (
            lambda: PromptTemplate.from_dict(
                {"name": "x", "text": "{a}", "variables": {"a": {"choices": 5}}}
            ),
            "choices must be a list of text",
        ),
        (
            lambda: PromptTemplate.from_dict(
                {"name": "x", "text": "{a}", "variables": {"a": {"max_length": "x"}}}
            ),
            "max_length must be an integer",
        ),
        (lambda: RenderedPrompt(name="x", text="hi").estimate(5), "model must be a model name"),
        (
            lambda: RenderedPrompt(name="x", text="hi").estimate("gpt-4o", output_tokens="5"),
            "output_tokens must be an integer",
        ),
        (
            lambda: RenderedPrompt(name="x", text="hi").estimate("gpt-4o", pricing=5),
            "pricing must be a PricingTable",
        ),
        (
            lambda: RenderedPrompt(name="x", messages=({"role": "user"},)).estimate("gpt-4o"),
            "each message must have text role and content",
        ),
    ],
)
def test_bad_input_is_a_template_error(build: Any, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        build()
    assert message in str(caught.value)


def test_a_10_mb_value_outside_its_choices_is_quoted_briefly() -> None:
    template = PromptTemplate(
        name="c", text="{c}", variables=(TemplateVariable("c", choices=("a", "b")),)
    )
    with pytest.raises(TemplateError) as caught:
        template.render(c="z" * TEN_MB)
    assert len(str(caught.value)) < 200


def _deep_list() -> list[Any]:
    deep: list[Any] = ["x"]
    for _ in range(2_000):
        deep = [deep]
    return deep


_huge = st.builds(pow, st.sampled_from([10, -10]), st.sampled_from([400, 5000]))
_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | _huge
    | st.floats()
    | st.text(max_size=6)
    | st.builds(_deep_list),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    ["name", "text", "messages", "variables", "tags", "category", "description",
     "example", "model_hints", "experiment", "allow_unknown_variables"]
)  # fmt: skip
_message = st.dictionaries(
    st.sampled_from(["role", "content", "name"]),
    _junk | st.sampled_from(["user", "system", "{a} and {b}"]),
)
_hint_keys = st.sampled_from(["model", "temperature", "max_tokens"]) | st.integers()
_variable = st.dictionaries(
    st.sampled_from(["type", "description", "required", "default", "choices", "max_length"]),
    _junk | st.sampled_from(["text", "integer", "number", "boolean", "list"]),
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(
    data=st.dictionaries(_keys | st.integers(), _junk, max_size=6)
    | st.fixed_dictionaries(
        {
            "name": st.just("t"),
            "text": st.sampled_from(["{a}", "{a} {b}", "x"]),
            "variables": st.dictionaries(st.sampled_from(["a", "b"]), _variable | _junk),
        },
        optional={"example": st.dictionaries(st.sampled_from(["a", "b"]), _junk)},
    )
    | st.fixed_dictionaries(
        {"name": st.just("t"), "messages": st.lists(_message, max_size=2)},
        optional={"model_hints": st.dictionaries(_hint_keys, _junk)},
    ),
    values=st.dictionaries(st.sampled_from(["a", "b", "c"]), _junk, max_size=3),
    model=_junk | st.sampled_from(["gpt-4o-mini", "gpt-4"]),
    output_tokens=_junk,
)
def test_templates_raise_only_template_errors(
    data: Any, values: dict[str, Any], model: Any, output_tokens: Any
) -> None:
    with contextlib.suppress(TemplateError):
        template = PromptTemplate.from_dict(data)
        rendered = template.render(values)
        rendered.estimate(model, output_tokens=output_tokens)
    for kind in ("text", "integer", "number", "boolean", "list"):
        with contextlib.suppress(TemplateError):
            TemplateVariable("v", type=kind, default=values.get("a", 0))
