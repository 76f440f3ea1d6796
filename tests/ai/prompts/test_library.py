"""The built-in template library: every file loads, renders its example, and is documented."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from ai.errors import TemplateError
from ai.prompts.library import LIBRARY_PACKAGE, builtin_templates
from ai.prompts.template import Category, PromptTemplate
from ai.rag import ContextRetriever, VectorStore, VectorStoreConfig, VectorStoreType

TEMPLATES = builtin_templates()
NAMES = sorted(TEMPLATES)
DOCS = Path(__file__).parents[3] / "docs" / "prompt-library.md"
COVERED = {
    Category.ARCHITECTURE,
    Category.CODE_GENERATION,
    Category.CODE_REVIEW,
    Category.TESTING,
    Category.DOCUMENTATION,
    Category.DEBUGGING,
    Category.REFACTORING,
    Category.SECURITY_REVIEW,
    Category.SUMMARIZATION,
    Category.RAG,
}
MAX_INPUT_TOKENS = 1500  # a rendered example: the instructions plus realistic sample values
MAX_OUTPUT_HINT = 4096
SOURCE_LABEL = re.compile(r"^\[(\d+)\] \(source: [^)\n]+\)$", re.MULTILINE)


def _files() -> dict[str, str]:
    folder = resources.files(LIBRARY_PACKAGE)
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml", ".json"))
    }


def _rendered_text(template: PromptTemplate, values: dict[str, object]) -> str:
    return "\n".join(m["content"] for m in template.render(values).as_messages())


def test_every_file_is_one_loaded_template_named_after_it() -> None:
    files = _files()
    assert sorted(name.removesuffix(".yaml") for name in files) == NAMES
    assert len(NAMES) >= 15


def test_the_library_covers_every_category() -> None:
    assert {Category(t.category) for t in TEMPLATES.values()} >= COVERED


@pytest.mark.parametrize("name", NAMES)
def test_files_are_in_canonical_form(name: str) -> None:
    data = yaml.safe_load(_files()[f"{name}.yaml"])
    template = TEMPLATES[name]
    assert data == template.to_dict()
    assert PromptTemplate.from_dict(data) == template


@pytest.mark.parametrize("name", NAMES)
def test_templates_are_described(name: str) -> None:
    template = TEMPLATES[name]
    assert len(template.description) >= 40, "say what the template is for"
    assert 2 <= len(template.tags) <= 4
    assert all(tag == tag.lower() and " " not in tag for tag in template.tags)
    assert all(variable.description for variable in template.variables)
    assert template.example
    hints = template.model_hints
    assert hints.temperature is not None and hints.temperature <= 0.5
    assert hints.max_tokens is not None and hints.max_tokens <= MAX_OUTPUT_HINT


@pytest.mark.parametrize("name", NAMES)
def test_examples_render_within_a_sane_token_budget(name: str) -> None:
    template = TEMPLATES[name]
    assert set(template.required_variables) <= set(template.example)
    rendered = template.render(template.example)
    assert all(m["content"].strip() for m in rendered.as_messages())
    estimate = rendered.estimate("gpt-4o-mini")
    assert 0 < estimate.input_tokens < MAX_INPUT_TOKENS
    assert estimate.output_tokens == template.model_hints.max_tokens


@pytest.mark.parametrize("name", NAMES)
def test_required_variables_alone_render_with_the_defaults(name: str) -> None:
    template = TEMPLATES[name]
    required = {key: template.example[key] for key in template.required_variables}
    text = _rendered_text(template, required)
    for variable in template.variables:
        if not variable.required:
            assert variable.default_text() in text


@pytest.mark.parametrize(
    ("name", "variable"),
    [(name, variable) for name in NAMES for variable in TEMPLATES[name].required_variables],
)
def test_a_missing_required_variable_is_named(name: str, variable: str) -> None:
    template = TEMPLATES[name]
    values = {k: v for k, v in template.example.items() if k != variable}
    with pytest.raises(TemplateError, match=rf"missing required variable\(s\): '{variable}'"):
        template.render(values)


def test_literal_braces_reach_the_prompt() -> None:
    template = TEMPLATES["api_docs"]
    text = _rendered_text(template, dict(template.example))
    assert '{"id": 42, "status": "active"}' in text


def test_rag_answer_example_looks_like_retriever_output() -> None:
    context = TEMPLATES["rag_answer"].example["context"]
    assert [int(n) for n in SOURCE_LABEL.findall(context)] == [1, 2]


class _WordHashEmbedder:
    """Bag-of-words vectors: enough to run the real retriever without an embedding model."""

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
        return vectors


async def test_rag_answer_keeps_the_retriever_numbering() -> None:
    store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    try:
        retriever = ContextRetriever(_WordHashEmbedder(), store)
        await retriever.add_documents(
            [
                {"id": "limits", "text": "# API\n\n## Rate limits\n\nA 429 carries Retry-After."},
                {"id": "sdk", "text": "The SDK retries a 429 after Retry-After, with jitter."},
                {"id": "auth", "text": "Tokens expire after one hour; refresh them early."},
            ]
        )
        context = await retriever.retrieve_and_format("retry after a 429", top_k=3)
    finally:
        await store.aclose()
    assert [int(n) for n in SOURCE_LABEL.findall(context)] == [1, 2, 3]
    assert "(source: limits > API > Rate limits)" in context
    rendered = TEMPLATES["rag_answer"].render(question="When may I retry a 429?", context=context)
    user = rendered.as_messages()[-1]["content"]
    assert context in user
    assert [int(n) for n in SOURCE_LABEL.findall(user)] == [1, 2, 3]


def test_the_docs_list_every_template_with_its_category() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9_.-]+)` \| `?([a-z_]+)`? \|", docs, re.MULTILINE))
    assert rows == {name: TEMPLATES[name].category for name in NAMES}


def test_the_docs_show_the_rag_answer_example_as_it_renders() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    template = TEMPLATES["rag_answer"]
    for message in template.render(template.example).as_messages():
        assert message["content"].rstrip() in docs
