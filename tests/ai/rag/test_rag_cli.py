"""`devora rag ingest` then `devora rag query`, as separate runs over a saved store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai.cli.app import app
from tests.ai.cli.running import run_devora


def test_ingest_then_query_in_separate_runs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "nested").mkdir(parents=True)
    (docs / "redis.md").write_text("# Redis\n\nRedis expires keys after a TTL set with PX.\n")
    (docs / "nested" / "tides.txt").write_text("Tides are caused by the Moon's gravity.\n")
    (docs / "retry.py").write_text(
        "# Retry with exponential backoff\ndef backoff(n):\n    return 2 ** n\n"
    )
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (docs / ".hidden").mkdir()
    (docs / ".hidden" / "secret.md").write_text("never ingested")
    store = tmp_path / "store"
    runner = CliRunner(env={"COLUMNS": "250"})

    first = runner.invoke(app, ["rag", "ingest", str(docs), "--store-dir", str(store)])
    assert first.exit_code == 0, first.output
    assert "Ingested 3 file(s)" in first.output
    again = runner.invoke(app, ["rag", "ingest", str(docs), "--store-dir", str(store)])
    assert "3 unchanged" in again.output

    found = runner.invoke(
        app, ["rag", "query", "what causes the tides", "--store-dir", str(store), "--top-k", "1"]
    )
    assert found.exit_code == 0, found.output
    assert "tides.txt" in found.output
    keyword = runner.invoke(
        app, ["rag", "query", "backoff", "--store-dir", str(store), "--mode", "bm25", "--context"]
    )
    assert (
        keyword.exit_code == 0 and "[1] (source:" in keyword.output and "retry.py" in keyword.output
    )

    # Not a terminal: one result a line, tab-separated; --context exactly as formatted.
    rank, score, source, text = found.stdout.splitlines()[0].split("\t")
    assert rank == "1" and float(score) and source.endswith("tides.txt")
    assert text == "Tides are caused by the Moon's gravity."
    assert keyword.stdout.startswith("[1] (source:") and "\t" not in keyword.stdout

    # --json: one document on stdout, whatever the progress does.
    as_json = runner.invoke(
        app, ["rag", "query", "tides", "--store-dir", str(store), "--top-k", "2", "--json"]
    )
    payload = json.loads(as_json.stdout)
    assert payload["question"] == "tides" and payload["mode"] == "hybrid"
    assert payload["results"][0]["rank"] == 1
    assert payload["results"][0]["source"].endswith("tides.txt")
    assert payload["results"][0]["text"].startswith("Tides are caused")
    assert payload["results"][0]["metadata"]["type"] == "txt"
    context = runner.invoke(
        app, ["rag", "query", "backoff", "--store-dir", str(store), "--context", "--json"]
    )
    assert json.loads(context.stdout)["context"].startswith("[1] (source:")
    ingested = runner.invoke(app, ["rag", "ingest", str(docs), "--store-dir", str(store), "--json"])
    summary = json.loads(ingested.stdout)
    assert {key: summary[key] for key in ("added", "unchanged", "chunks", "store_dir")} == {
        "added": 0, "unchanged": 3, "chunks": 0, "store_dir": str(store)
    }  # fmt: skip


def test_query_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rag", "query", "x", "--store-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "devora rag ingest" in result.output


def test_query_errors_are_one_line_on_stderr_even_with_json(tmp_path: Path) -> None:
    result = run_devora("rag", "query", "x", "--store-dir", str(tmp_path / "none"), "--json")
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().count("\n") == 1 and b"devora rag ingest" in result.stderr


def test_rag_commands_have_help() -> None:
    for command in (["rag", "--help"], ["rag", "ingest", "--help"], ["rag", "query", "--help"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output


def test_odd_files_are_read_as_text_or_skipped_and_one_file_is_one_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A UTF-8 BOM is dropped (it hid the first heading); NUL bytes mean binary (UTF-16
    without a BOM decodes as UTF-8); a file named by two paths is stored once, under its
    path relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "bom.md").write_bytes(b"\xef\xbb\xbf# BOM Title\n\nThe zebra protocol.\n")
    (tmp_path / "f" / "nul.txt").write_bytes(b"\x00" * 50)
    (tmp_path / "f" / "u16.txt").write_bytes("walrus text".encode("utf-16-le"))
    runner = CliRunner()

    def ingest(*paths: str) -> dict[str, object]:
        result = runner.invoke(app, ["rag", "ingest", *paths, "--store-dir", "s", "--json"])
        assert result.exit_code == 0, result.output
        summary: dict[str, object] = json.loads(result.stdout)
        return summary

    first = ingest("f", "./f/bom.md")
    assert (first["added"], first["skipped"]) == (1, 2)
    again = ingest(str(tmp_path / "f" / "bom.md"), "f/../f/bom.md")
    assert (again["added"], again["unchanged"]) == (0, 1)
    found = runner.invoke(app, ["rag", "query", "zebra walrus", "--store-dir", "s", "--json"])
    [result] = json.loads(found.stdout)["results"]
    assert result["source"] == result["metadata"]["path"] == str(Path("f", "bom.md"))
    assert result["metadata"]["headings"] == ["BOM Title"]
    assert result["text"].startswith("# BOM Title")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "x", "--top-k", "0"], "--top-k must be at least 1, got 0"),
        (["ingest", "f", "--chunk-size", "10", "--overlap", "20"], "chunk_overlap must be"),
        (["ingest", "f", "--chunk-size", "0"], "chunk_size must be a positive integer, got 0"),
        (["ingest", "f", "--overlap", "-1"], "chunk_overlap must be"),
    ],
)
def test_bad_numbers_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    """Were Rich tracebacks, or (`--chunk-size 0`) silently the default size."""
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.md").write_text("# A\n\nSome text.\n")
    result = run_devora("rag", *args, "--store-dir", "s", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == b""
    error = result.stderr.decode()
    assert error.count("\n") == 1 and error.startswith("error: ") and message in error
    assert not (tmp_path / "s").exists()


def test_a_query_of_stop_words_answers_from_the_vectors(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text("Tides are caused by the Moon's gravity.\n")
    store = str(tmp_path / "store")
    runner = CliRunner()
    assert runner.invoke(app, ["rag", "ingest", str(docs), "--store-dir", store]).exit_code == 0
    for question in ("the of", "???"):
        found = runner.invoke(app, ["rag", "query", question, "--store-dir", store, "--json"])
        assert found.exit_code == 0, found.output
        assert [r["source"] for r in json.loads(found.stdout)["results"]] == [
            str((docs / "tides.txt").resolve())
        ]
