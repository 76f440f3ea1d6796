"""Package-level contracts: light imports, exported names, the console script."""

from __future__ import annotations

import subprocess
import sys

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
