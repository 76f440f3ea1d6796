"""Package-level contracts: light imports, exported names, the console script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import ai.llm_service

HEAVY = ["redis", "asyncpg", "torch", "pinecone", "sentence_transformers", "starlette", "uvicorn"]


def test_importing_the_client_pulls_in_no_optional_driver() -> None:
    code = (
        "import sys, ai, ml_ops, ai.llm_service, ai.errors, ai.prompts, ai.cache;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_llm_service_exports_match_all() -> None:
    expected = {
        "CompletionStats",
        "CompletionStream",
        "LLMConfig",
        "LLMProvider",
        "LLMService",
        "ModelRoute",
        "RequestRecord",
        "SyncLLMService",
        "SyncStream",
    }
    assert set(ai.llm_service.__all__) == expected
    for name in expected:
        assert getattr(ai.llm_service, name).__name__ == name


def test_every_cli_command_has_help() -> None:
    from typer.testing import CliRunner

    from ai.cli.app import app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ["demo", "fake-provider", "prompts", "rag"]:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_prompts_exports_match_all() -> None:
    import ai.prompts

    expected = {
        "LATEST", "PRODUCTION", "Category", "DirectoryTemplateStore", "Exposure",
        "ImportReport", "MemoryTemplateStore", "ModelHints", "PostgresTemplateStore",
        "PromptEstimate", "PromptExperiments", "PromptMessage", "PromptTemplate",
        "RenderedPrompt", "Role", "SQLiteTemplateStore", "TemplateDiff", "TemplateError",
        "TemplateHistory", "TemplateManager", "TemplateNotFoundError", "TemplateStore",
        "TemplateSummary", "TemplateVariable", "TemplateVersion", "VariableType",
        "WeightedSplit", "builtin_templates", "open_template_store",
    }  # fmt: skip
    assert set(ai.prompts.__all__) == expected
    for name in expected:
        assert getattr(ai.prompts, name) is not None, name


def test_readme_lists_the_core_dependencies_pyproject_installs() -> None:
    root = Path(__file__).resolve().parent.parent
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower() for spec in declared}
    readme = (root / "README.md").read_text()
    paragraph = readme.split("Core dependencies:", 1)[1].split("\n\n", 1)[0]
    listed = {name.lower() for name in re.findall(r"`([A-Za-z0-9_.\-]+)`", paragraph)}
    assert listed == names


def test_loading_the_local_model_prints_nothing_and_restores_settings() -> None:
    pytest.importorskip("sentence_transformers")
    code = """
import asyncio, warnings
from transformers.utils import logging as tl
from ai.rag import EmbeddingService
filters = list(warnings.filters)
async def main():
    service = EmbeddingService.local()
    vector = await service.embed_query("hello")
    await service.aclose()
    return len(vector)
size = asyncio.run(main())
print(size, tl.is_progress_bar_enabled(), warnings.filters == filters)
"""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["384", "True", "True"]
    assert out.stderr == ""  # no "Loading weights" bar, no FutureWarning
