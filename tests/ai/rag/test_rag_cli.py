"""`devora rag ingest` then `devora rag query`, as separate runs over a saved store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ai.cli.app import app


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


def test_query_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rag", "query", "x", "--store-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "devora rag ingest" in result.output


def test_rag_commands_have_help() -> None:
    for command in (["rag", "--help"], ["rag", "ingest", "--help"], ["rag", "query", "--help"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output
