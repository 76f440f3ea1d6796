"""`devora prompts ...` end to end on a directory store (each command is a fresh process state)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ai.cli.app import app
from ai.prompts import RenderedPrompt, TemplateManager
from tests.ai.cli.running import child_env, devora_command, run_devora, run_devora_in_terminal

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


# The real command in a subprocess: stdout a pipe (as in `| cat`) or a terminal.


async def rendered_by_python(store: str, name: str, **values: object) -> RenderedPrompt:
    async with TemplateManager(store) as manager:
        template = (await manager.get(name)).template
        return await manager.render(name, {**template.example, **values})


def test_render_piped_is_the_rendered_text_byte_for_byte(store: str, tmp_path: Path) -> None:
    long_line = "fix: " + "a very long line that no terminal is that wide for, " * 8
    diff = tmp_path / "change.diff"
    diff.write_text(f"--- a/x.py\n+++ b/x.py\n+{long_line}\n", encoding="utf-8")
    expected = asyncio.run(
        rendered_by_python(store, "commit_message", diff=diff.read_text(encoding="utf-8"))
    )
    assert expected.text is not None and long_line in expected.text
    args = ["render", "commit_message", "--example", "-v", f"diff=@{diff}", "--store", store]
    with (
        subprocess.Popen(  # devora ... | cat
            [*devora_command(), "prompts", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        ) as devora,
        subprocess.Popen(["cat"], stdin=devora.stdout, stdout=subprocess.PIPE) as cat,
    ):
        assert devora.stdout is not None and devora.stderr is not None
        devora.stdout.close()  # cat holds the read end now
        piped, _ = cat.communicate(timeout=60)
        errors = devora.stderr.read()
    assert devora.returncode == 0 and cat.returncode == 0, errors
    assert piped == expected.text.encode("utf-8")
    assert errors == b""

    # On a narrow terminal the line is the terminal's to wrap: no newline is inserted.
    status, shown = run_devora_in_terminal("prompts", *args, columns=60)
    assert status == 0 and long_line in shown


def test_render_piped_chat_messages_are_verbatim_under_role_lines(store: str) -> None:
    expected = asyncio.run(rendered_by_python(store, "code_review"))
    result = run_devora(
        "prompts", "render", "code_review", "--example", "--store", store,
        "--estimate", "gpt-4o-mini",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    framed = "".join(f"--- {m['role']} ---\n{m['content']}\n" for m in expected.as_messages())
    assert result.stdout.decode("utf-8") == framed
    assert result.stderr.decode().startswith("gpt-4o-mini: ")  # the estimate, off stdout


def test_listings_are_tab_separated_in_a_pipe_and_tables_on_a_terminal(store: str) -> None:
    piped = run_devora("prompts", "list", "--store", store)
    rows = [line.split("\t") for line in piped.stdout.decode().splitlines()]
    assert len(rows) == 17 and {len(row) for row in rows} == {5}
    by_name = {row[0]: row for row in rows}
    assert by_name["code_review"][1:4] == ["code_review", "1", "1"]
    versions = run_devora("prompts", "versions", "code_review", "--store", store)
    fields = versions.stdout.decode().rstrip("\n").split("\t")
    assert fields[:3] == ["1", "production, latest", "devora-ai"] and len(fields) == 6

    status, shown = run_devora_in_terminal("prompts", "list", "--store", store)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # colours off
    assert status == 0 and "┃ name" in shown and "\t" not in shown
    assert "│ code_review (built-in)" in shown


def test_every_data_command_prints_json_alone_on_stdout(store: str, tmp_path: Path) -> None:
    def as_json(*args: str) -> Any:
        result = run_devora("prompts", *args, "--store", store, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    listed = as_json("list", "--category", "testing")
    assert {item["name"] for item in listed["templates"]} >= {"unit_tests"}
    assert {"name", "category", "latest_version", "labels", "builtin", "variables"} <= set(
        listed["templates"][0]
    )
    shown = as_json("show", "code_review")
    assert shown["version"] == 1 and shown["labels"] == ["production"]
    assert shown["template"]["messages"][0]["role"] == "system"
    path = write_template(tmp_path / "t.yaml", "Notes for {audience}:\n{changes}")
    assert as_json("save", str(path)) == {"name": "release_notes", "version": 1, "changed": True}
    write_template(path, "Release notes for {audience}:\n{changes}")
    assert as_json("save", str(path))["version"] == 2
    labelled = as_json("label", "release_notes", "production", "2")
    assert labelled == {"name": "release_notes", "label": "production", "version": 2,
                        "removed": False}  # fmt: skip
    history = as_json("versions", "release_notes")
    assert history["labels"] == {"production": 2}
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][1]["latest"] and history["versions"][1]["created_at"]
    diff = as_json("diff", "release_notes", "1", "2")
    assert diff["changed_fields"] == ["text"] and "+  Release notes" in diff["unified"]
    rendered = as_json("render", "release_notes", "-v", "changes=x", "--estimate", "hint")
    assert rendered["text"] == "Release notes for developers:\n- x"
    assert rendered["messages"] == [{"role": "user", "content": rendered["text"]}]
    assert rendered["estimate"]["model"] == "gpt-4o-mini"
    exported = as_json("export", str(tmp_path / "out"))
    assert exported["paths"] == [str(tmp_path / "out" / "release_notes.yaml")]
    imported = run_devora(
        "prompts", "import", str(tmp_path / "out"), "--json",
        "--store", f"sqlite:///{tmp_path / 'copy.db'}",
    )  # fmt: skip
    assert json.loads(imported.stdout)["created"] == ["release_notes"]


@pytest.mark.parametrize(
    "source", ["missing-dir", "missing.db", "sqlite:///missing.sqlite", "sub/missing"]
)
def test_importing_a_missing_source_fails_and_creates_nothing(tmp_path: Path, source: str) -> None:
    result = run_devora("prompts", "import", source, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == b""
    message = result.stderr.decode()
    assert message.startswith("error: cannot import from") and message.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # neither the source nor .devora/prompts
    into_sqlite = run_devora(
        "prompts", "import", source, "--store", f"sqlite:///{tmp_path / 'to.db'}", cwd=tmp_path
    )
    assert into_sqlite.returncode == 1 and list(tmp_path.iterdir()) == []
