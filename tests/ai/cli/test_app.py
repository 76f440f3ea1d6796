"""The `devora` command itself: fast help (lazy groups), completion, typo suggestions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ai.cli.app import DevoraGroup, app
from tests.ai.cli.running import child_env, devora_command, run_devora

# What `devora --help` must not import: the groups' own machinery and Rich's renderers.
HEAVY_AT_HELP = (
    "numpy", "httpx", "tiktoken", "yaml", "rich", "bm25s", "filelock", "torch",
    "ai.rag", "ai.prompts", "ai.calls", "ai.llm_service", "ai.accounting", "ai.cli.demo",
    "ai.testing",
)  # fmt: skip


def imported_by(args: list[str]) -> set[str]:
    """Every module `devora args...` imports, read from `python -X importtime`."""
    command = devora_command()
    if command[0] != sys.executable:  # the console script is a Python file
        command = [sys.executable, *command]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:], *args],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
        timeout=60,
    )
    assert "Usage: devora" in result.stdout or "Usage: python -m ai.cli" in result.stdout
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def test_help_imports_no_heavy_module() -> None:
    modules = imported_by(["--help"])
    assert "ai.cli.app" in modules  # the measurement saw our own imports
    heavy = sorted(
        name for name in modules for prefix in HEAVY_AT_HELP
        if name == prefix or name.startswith(prefix + ".")
    )  # fmt: skip
    assert heavy == []


def test_help_lists_every_command_with_the_lazy_groups_own_help() -> None:
    result = run_devora("--help")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.decode()
    for command in ("demo", "fake-provider", "fake-pinecone", "rag", "prompts"):
        assert f"  {command} " in listed
    for spec in DevoraGroup.lazy_groups:
        loaded = spec.load()
        assert loaded.name == spec.name
        assert (loaded.help or "").strip() == spec.help


def test_a_lazy_group_runs_and_shows_its_help() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["prompts", "--help"])
    assert result.exit_code == 0, result.output
    assert "render" in result.output and "versions" in result.output
    assert "Usage" in runner.invoke(app, ["rag"]).output  # no command: the group's help


def test_a_misspelt_command_is_suggested() -> None:
    result = CliRunner().invoke(app, ["promts", "list"])
    assert result.exit_code == 2
    assert "Did you mean 'prompts'?" in result.output


def test_shell_completion_is_installed_and_completes_inside_lazy_groups() -> None:
    assert b"--install-completion" in run_devora("--help").stdout
    # The bash script, asked for as `--show-completion` asks for it, but by name: that
    # option detects the shell from the parent processes, which under `sh -c` is sh.
    script = run_devora(env=child_env({"_DEVORA_COMPLETE": "source_bash"}))
    assert script.returncode == 0 and b"_DEVORA_COMPLETE=complete_bash" in script.stdout

    def complete(words: str, index: int) -> list[str]:
        env = child_env(
            {"_DEVORA_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(index)}
        )
        result = subprocess.run(
            devora_command(), capture_output=True, text=True, env=env, check=True, timeout=60
        )
        return result.stdout.split()

    assert complete("devora pro", 1) == ["prompts"]
    assert complete("devora prompts re", 2) == ["render"]
    assert "--json" in complete("devora prompts list --", 3)


@pytest.mark.parametrize("command", ["demo", "fake-provider", "fake-pinecone", "rag", "prompts"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
