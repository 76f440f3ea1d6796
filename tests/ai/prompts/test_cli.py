"""`devora prompts ...` end to end on a directory store (each command is a fresh process state)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ai.cli.app import app

runner = CliRunner()


def devora(*args: str) -> str:
    result = runner.invoke(app, ["prompts", *args])
    assert result.exit_code == 0, result.output
    return result.output


def failing(*args: str) -> str:
    result = runner.invoke(app, ["prompts", *args])
    assert result.exit_code == 1, result.output
    return result.output


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "prompts")


def write_template(path: Path, text: str, **extra: object) -> Path:
    data = {
        "name": "release_notes",
        "category": "documentation",
        "description": "Release notes from a change list.",
        "variables": {"changes": {"type": "list"}, "audience": {"default": "developers"}},
        "text": text,
        "model_hints": {"model": "gpt-4o-mini", "max_tokens": 300},
        **extra,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_list_shows_the_builtin_library(store: str) -> None:
    output = devora("list", "--store", store)
    for name in ("code_review", "rag_answer", "security_review", "unit_tests"):
        assert name in output
    assert "code_review" not in devora("list", "--store", store, "--category", "testing")
    assert "rag_answer" in devora("list", "--store", store, "--search", "sources")


def test_save_version_label_render_diff_cycle(store: str, tmp_path: Path) -> None:
    first = write_template(tmp_path / "t.yaml", "Notes for {audience}:\n{changes}")
    assert "Saved: release_notes version 1" in devora("save", str(first), "--store", store)
    assert "Unchanged: release_notes version 1" in devora("save", str(first), "--store", store)
    second = write_template(tmp_path / "t.yaml", "Release notes for {audience}:\n{changes}")
    devora("save", str(second), "--store", store, "--note", "clearer", "--label", "staging")

    versions = devora("versions", "release_notes", "--store", store)
    assert "production" in versions and "staging" in versions and "clearer" in versions

    production = devora("render", "release_notes", "--store", store, "-v", 'changes=["a", "b"]')
    assert "Notes for developers:\n- a\n- b" in production
    staging = devora(
        "render", "release_notes", "--store", store, "--label", "staging", "-v", "changes=- x"
    )
    assert "Release notes for developers:\n- x" in staging

    devora("label", "release_notes", "production", "2", "--store", store)
    assert "Release notes" in devora("render", "release_notes", "--store", store, "-v", "changes=x")
    diff = devora("diff", "release_notes", "1", "2", "--store", store)
    assert "Changed: text" in diff and "-  Notes for {audience}:" in diff

    devora("label", "release_notes", "staging", "--remove", "--store", store)
    assert "no label 'staging'" in failing(
        "show", "release_notes", "--label", "staging", "--store", store
    )


def test_render_from_files_as_json_with_an_estimate(store: str, tmp_path: Path) -> None:
    code = tmp_path / "snippet.py"
    code.write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
    output = devora(
        "render",
        "code_review",
        "--store",
        store,
        "-v",
        "language=Python",
        "-v",
        f"code=@{code}",
        "--estimate",
        "gpt-4o-mini",
        "--json",
    )
    payload = json.loads(output)
    assert payload["name"] == "code_review" and payload["version"] == 1
    assert "return a - b" in payload["messages"][1]["content"]
    assert payload["estimate"]["input_tokens"] > 50
    assert payload["estimate"]["total_cost_usd"] > 0


def test_example_values_render(store: str) -> None:
    output = devora("render", "rag_answer", "--example", "--store", store)
    assert "[1]" in output


def test_show_prints_variables_and_text(store: str) -> None:
    output = devora("show", "code_review", "--store", store)
    assert "version 1 (production)" in output
    assert "language" in output and "You are a senior {language} engineer" in output


def test_errors_are_one_line_with_exit_code_1(store: str, tmp_path: Path) -> None:
    assert "missing required variable(s): 'language'" in failing(
        "render", "code_review", "--store", store, "-v", "code=x"
    )
    assert "unknown variable(s) 'lang'" in failing(
        "render",
        "code_review",
        "--store",
        store,
        "-v",
        "lang=x",
        "-v",
        "code=x",
        "-v",
        "language=x",
    )
    assert "no template named 'code_reveiw'; did you mean 'code_review'" in failing(
        "show", "code_reveiw", "--store", store
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntext: Hi {user.name}\n", encoding="utf-8")
    assert "is not a placeholder" in failing("save", str(bad), "--store", store)
    assert "write name=value" in failing("render", "code_review", "--store", store, "-v", "oops")


def test_export_and_import_between_stores(store: str, tmp_path: Path) -> None:
    devora(
        "save", str(write_template(tmp_path / "t.yaml", "N {audience} {changes}")), "--store", store
    )
    sqlite_store = f"sqlite:///{tmp_path / 'prompts.db'}"
    assert "1 new template(s)" in devora("import", store, "--store", sqlite_store)
    assert "release_notes" in devora("list", "--store", sqlite_store)
    assert "Exported 1 template(s)" in devora(
        "export", str(tmp_path / "out"), "--store", sqlite_store
    )
    exported = yaml.safe_load((tmp_path / "out" / "release_notes.yaml").read_text())
    assert exported["labels"] == {"production": 1}
    output = devora("import", str(tmp_path / "out"), "--store", store)
    assert "1 already current" in " ".join(output.split())
