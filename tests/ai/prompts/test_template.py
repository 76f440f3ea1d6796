"""PromptTemplate and its variables: validation, typed values, rendering, the file form."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.accounting.tokens import count_message_tokens
from ai.errors import TemplateError
from ai.llm_service import LLMService
from ai.prompts.rendered import RenderedPrompt
from ai.prompts.template import PromptTemplate
from ai.prompts.variables import TemplateVariable, VariableType
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import openai_config


def review_template(**changes: Any) -> PromptTemplate:
    data: dict[str, Any] = {
        "name": "review",
        "category": "code_review",
        "description": "Review code.",
        "tags": ["Review", "quality"],
        "variables": {
            "code": {"type": "text", "description": "The code"},
            "language": {"type": "text", "choices": ["python", "go"]},
            "strict": {"type": "boolean", "default": False},
            "max_findings": {"type": "integer", "default": 5},
            "focus": {"type": "list", "required": False},
        },
        "messages": [
            {"role": "system", "content": "You review {language}. Strict: {strict}."},
            {
                "role": "user",
                "content": "At most {max_findings} findings.\nFocus:\n{focus}\n```\n{code}\n```",
            },
        ],
        "model_hints": {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 500},
        "example": {"code": "x = 1", "language": "python"},
    }
    data.update(changes)
    return PromptTemplate.from_dict(data)


def test_render_fills_every_message_and_uses_defaults() -> None:
    rendered = review_template().render(code="print(1)", language="go", focus=["speed", "safety"])
    assert rendered.as_messages() == [
        {"role": "system", "content": "You review go. Strict: false."},
        {
            "role": "user",
            "content": "At most 5 findings.\nFocus:\n- speed\n- safety\n```\nprint(1)\n```",
        },
    ]
    assert rendered.model_hints.as_kwargs() == {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 500,
    }


def test_optional_variable_without_default_renders_empty() -> None:
    rendered = review_template().render(code="x", language="python")
    assert "Focus:\n\n```" in rendered.as_messages()[1]["content"]


def test_missing_required_variables_are_all_named_with_descriptions() -> None:
    with pytest.raises(
        TemplateError, match=r"missing required variable\(s\): 'code' \(The code\); 'language'"
    ):
        review_template().render()


def test_unknown_variable_is_an_error_unless_allowed() -> None:
    template = review_template()
    with pytest.raises(TemplateError, match=r"unknown variable\(s\) 'langauge'"):
        template.render(code="x", langauge="python", language="go")
    rendered = template.render(code="x", language="go", extra="ignored", allow_unknown=True)
    assert "ignored" not in str(rendered.as_messages())
    lenient = review_template(allow_unknown_variables=True)
    assert lenient.render(code="x", language="go", extra=1).as_messages()


def test_a_variable_named_allow_unknown_is_given_in_the_mapping() -> None:
    """`allow_unknown=` is an option of `render`, so Python never passes it to the
    variable: given that way while the mapping leaves the variable out, it is an error
    that says what to do, not a prompt rendered without it."""
    template = PromptTemplate(
        name="t",
        text="Lenient: {allow_unknown}",
        variables=(TemplateVariable("allow_unknown", required=False),),
    )
    assert template.render({"allow_unknown": "yes"}).text == "Lenient: yes"
    lenient = template.render({"allow_unknown": "yes"}, allow_unknown=True, other=1)
    assert lenient.text == "Lenient: yes"
    with pytest.raises(
        TemplateError,
        match=r"'allow_unknown' is both a variable of this template and an option of render\(\); "
        r"pass the variable in the values mapping, e.g. render\(\{'allow_unknown': \.\.\.\}\)",
    ):
        template.render(allow_unknown=True)
    assert review_template().render(code="x", language="go", allow_unknown=True).as_messages()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("code", {"a": 1}, "'code' expects text, got dict"),
        ("code", None, "'code' expects text, got nothing"),
        ("code", True, "'code' expects text, got bool"),
        ("code", math.nan, "non-finite"),
        ("language", "rust", "must be one of 'python', 'go'"),
        ("strict", "yes", "'strict' expects true or false"),
        ("max_findings", 2.5, "'max_findings' expects an integer"),
        ("max_findings", True, "'max_findings' expects an integer"),
        ("focus", "speed", "'focus' expects a list of text"),
        ("focus", ["ok", {"no": 1}], r"'focus\[1\]' expects text"),
    ],
)
def test_wrong_types_name_the_variable(name: str, value: Any, message: str) -> None:
    values: dict[str, Any] = {"code": "x", "language": "python", name: value}
    with pytest.raises(TemplateError, match=message):
        review_template().render(values)


def test_mapping_and_keywords_combine_but_may_not_clash() -> None:
    template = review_template()
    assert template.render({"code": "x"}, language="go").as_messages()
    with pytest.raises(TemplateError, match="both in the mapping and as keywords"):
        template.render({"code": "x", "language": "go"}, code="y")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "lowercase slug"),
        ({"name": "../../etc/passwd"}, "lowercase slug"),
        ({"category": "Code Review"}, "lowercase slug"),
        ({"text": "both"}, "either `messages` or `text`"),
        ({"messages": []}, "either `messages` or `text`"),
        (
            {"variables": {"code": {}, "language": {}, "strict": {}, "max_findings": {}}},
            r"\['focus'\] are not declared",
        ),
        (
            {
                "variables": {
                    **{k: {} for k in ["code", "language", "strict", "max_findings", "focus"]},
                    "spare": {},
                }
            },
            r"\['spare'\] are declared but never used",
        ),
        ({"variables": {"code": {"type": "blob"}}}, "unknown type 'blob'"),
        ({"variables": {"code": {"typo": 1}}}, r"unknown key\(s\) \['typo'\]"),
        ({"model_hints": {"temperature": 3}}, r"temperature hint must be in \[0, 2\]"),
        ({"model_hints": {"max_token": 3}}, r"unknown key\(s\) \['max_token'\]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "role 'tool'"),
        ({"tags": "one-string"}, "list of strings"),
        ({"example": {"code": "x"}}, "missing required variable"),
        ({"temprature": 1}, r"unknown key\(s\) \['temprature'\]"),
    ],
)
def test_invalid_definitions_fail_at_construction(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        review_template(**changes)


def test_a_bad_default_fails_at_definition() -> None:
    with pytest.raises(TemplateError, match="'n' expects an integer"):
        TemplateVariable("n", VariableType.INTEGER, default="five")


def test_inferred_variables_are_required_text() -> None:
    template = PromptTemplate(name="spec", text="Generate {task} for {audience}")
    assert template.required_variables == ("task", "audience")
    assert template.render(task="a plan", audience="devs").text == "Generate a plan for devs"


def test_dict_form_round_trips_and_tags_are_normalised() -> None:
    template = review_template()
    assert template.tags == ("review", "quality")
    again = PromptTemplate.from_dict(template.to_dict())
    assert again == template
    assert again.to_dict() == template.to_dict()


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        (VariableType.INTEGER, "42", 42),
        (VariableType.NUMBER, "0.5", 0.5),
        (VariableType.BOOLEAN, "Yes", True),
        (VariableType.BOOLEAN, "off", False),
        (VariableType.LIST, '["a", "b"]', ["a", "b"]),
        (VariableType.LIST, "- a\n\n- b\nc", ["a", "b", "c"]),
        (VariableType.TEXT, " keep spaces ", " keep spaces "),
    ],
)
def test_command_line_values_parse_by_type(type_: VariableType, raw: str, expected: Any) -> None:
    assert TemplateVariable("v", type_).parse(raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw"), [(VariableType.INTEGER, "4.5"), (VariableType.BOOLEAN, "maybe")]
)
def test_bad_command_line_values_are_errors(type_: VariableType, raw: str) -> None:
    with pytest.raises(TemplateError, match="variable 'v' expects"):
        TemplateVariable("v", type_).parse(raw)


def test_max_length_caps_a_value() -> None:
    template = PromptTemplate(
        name="capped",
        text="Summarise: {doc}",
        variables=(TemplateVariable("doc", max_length=10),),
    )
    assert template.render(doc="short").text == "Summarise: short"
    with pytest.raises(TemplateError, match="'doc' is 11 characters, over its max_length of 10"):
        template.render(doc="x" * 11)


@given(items=st.lists(st.text(max_size=20), max_size=5))
def test_list_values_render_one_item_per_line(items: list[str]) -> None:
    template = PromptTemplate(
        name="items", text="{items}", variables=(TemplateVariable("items", VariableType.LIST),)
    )
    text = template.render(items=items).text
    assert text == "\n".join(f"- {item}" for item in items)


def test_estimate_counts_tokens_and_prices_the_hinted_model() -> None:
    rendered = review_template().render(code="def f():\n    return 1\n" * 20, language="python")
    estimate = rendered.estimate()
    assert estimate.model == "gpt-4o-mini"
    assert estimate.output_tokens == 500
    assert not estimate.estimated  # gpt-4o-mini's own tokenizer (o200k) is available offline
    longer = review_template().render(code="def f():\n    return 1\n" * 40, language="python")
    assert longer.estimate().input_tokens > estimate.input_tokens
    assert estimate.input_cost is not None and estimate.output_cost is not None
    assert estimate.total_cost == pytest.approx(estimate.input_cost + estimate.output_cost)
    assert estimate.input_cost == pytest.approx(estimate.input_tokens * 0.15 / 1e6)


@given(text=st.text(min_size=1).filter(str.strip))
def test_a_text_template_is_estimated_as_the_message_it_is_sent_as(text: str) -> None:
    """`as_messages()` sends a text template as one user message, so its estimate counts
    that message's framing, as for the same prompt written as a chat template."""
    rendered = RenderedPrompt(name="t", text=text)
    as_chat = RenderedPrompt(name="t", messages=tuple(rendered.as_messages()))
    for model in ("gpt-4o-mini", "gpt-4"):
        estimate = rendered.estimate(model)
        assert estimate.input_tokens == as_chat.estimate(model).input_tokens
        assert estimate.input_tokens == count_message_tokens(rendered.as_messages(), model).tokens


async def test_a_text_templates_estimate_is_what_the_provider_reports(
    fake: FakeProviderServer,
) -> None:
    # gpt-4-turbo counts with cl100k, the encoding the fake provider reports usage in.
    rendered = PromptTemplate(name="haiku", text="Generate a haiku about {task}").render(
        task="autumn leaves"
    )
    estimate = rendered.estimate("gpt-4-turbo")
    async with LLMService(openai_config(fake, model="gpt-4-turbo")) as llm:
        _, stats = await llm.complete(rendered.as_messages(), max_tokens=5)
    assert estimate.input_tokens == stats.input_tokens


def test_estimate_for_an_unpriced_model_has_no_cost() -> None:
    estimate = (
        PromptTemplate(name="t", text="hello {x}")
        .render(x="y")
        .estimate("acme/unknown-model", output_tokens=10)
    )
    assert estimate.input_tokens > 0 and estimate.estimated
    assert estimate.total_cost is None


def test_estimate_needs_a_model() -> None:
    with pytest.raises(TemplateError, match="no model to estimate for"):
        PromptTemplate(name="t", text="hello").render().estimate()


def test_required_with_a_default_is_a_contradiction() -> None:
    with pytest.raises(TemplateError, match="marked required but has a default"):
        review_template(variables={"code": {"required": True, "default": "x"}})
