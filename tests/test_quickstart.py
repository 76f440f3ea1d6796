"""The spec's Quick Start 1, run as written; only `base_url` is added to reach the fakes."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from typing import Any

import pytest

from ai.testing import FakeProviderServer

QUICK_START_1 = """
from ai.llm_service import LLMService, LLMConfig, LLMProvider

# Configure
config = LLMConfig(
    provider=LLMProvider.OPENROUTER,
    api_key="your_api_key",
    model="openai/gpt-4o-mini",
    max_retries=3,
)

# Use
async with LLMService(config) as llm:
    response, stats = await llm.complete(
        messages=[{"role": "user", "content": "Hello!"}],
    )
    print(f"Response: {response}")
    print(f"Cost: ${stats.estimated_cost:.4f}")
"""


def with_base_url(source: str, provider: str, model: str, base_url: str) -> str:
    """The snippet with only the provider, model and the added `base_url` changed."""
    source = source.replace("LLMProvider.OPENROUTER", f"LLMProvider.{provider}")
    source = source.replace('model="openai/gpt-4o-mini"', f'model="{model}"')
    return source.replace("max_retries=3,", f"max_retries=3,\n    base_url={base_url!r},")


async def run_snippet(source: str) -> str:
    code = compile(source, "<quickstart>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(out):
        result = eval(code, namespace)  # noqa: S307 - the spec's own snippet
        if result is not None:
            await result
    return out.getvalue()


@pytest.fixture(scope="module")
def spec_fake() -> Any:
    with FakeProviderServer(api_key="your_api_key") as server:
        yield server


@pytest.mark.parametrize(
    ("provider", "model", "url_attribute"),
    [
        ("OPENROUTER", "openai/gpt-4o-mini", "openrouter_base_url"),
        ("OPENAI", "gpt-4o-mini", "openai_base_url"),
        ("ANTHROPIC", "claude-3-5-haiku-20241022", "anthropic_base_url"),
    ],
)
async def test_quick_start_1_runs_as_written(
    spec_fake: FakeProviderServer, provider: str, model: str, url_attribute: str
) -> None:
    source = with_base_url(QUICK_START_1, provider, model, getattr(spec_fake, url_attribute))
    printed = await run_snippet(source)
    assert re.search(r"^Response: \S", printed, re.MULTILINE), printed
    assert re.search(r"^Cost: \$\d+\.\d{4}$", printed, re.MULTILINE), printed
    assert spec_fake.request_count() >= 1
