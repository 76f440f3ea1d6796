"""Reading labelled sets in BEIR's folder layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ai.rag.beir import load_beir


def write_beir(root: Path, qrels: str, corpus: list[dict[str, str]] | None = None) -> Path:
    (root / "qrels").mkdir(parents=True)
    rows = corpus or [
        {"_id": "d1", "title": "Redis", "text": "Keys expire."},
        {"_id": "d2", "title": "", "text": "Tides follow the moon."},
        {"_id": "d3", "title": "Only a title"},
    ]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    queries = [
        {"_id": "q1", "text": "redis"},
        {"_id": "q2", "text": "moon"},
        {"_id": "q3", "text": "x"},
    ]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_reads_corpus_queries_and_graded_qrels(tmp_path: Path) -> None:
    folder = write_beir(
        tmp_path / "set", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td2\t1\nq3\td3\t0\n"
    )
    collection = load_beir(folder)
    assert collection.name == "set"
    assert collection.documents == [
        {"id": "d1", "text": "Redis\n\nKeys expire."},
        {"id": "d2", "text": "Tides follow the moon."},
        {"id": "d3", "text": "Only a title"},
    ]
    assert collection.qrels == {"q1": {"d1": 2, "d2": 0}, "q2": {"d2": 1}}  # q3: none relevant
    assert collection.queries == {"q1": "redis", "q2": "moon"}
    assert collection.graded and collection.judgments == 3


def test_reads_trec_four_column_qrels(tmp_path: Path) -> None:
    collection = load_beir(
        write_beir(tmp_path / "trec", "q1 0 d1 1\nq2 0 d2 1\n".replace(" ", "\t"))
    )
    assert collection.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}} and not collection.graded


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("q1\td1\t1\nq2\td2\n", "expected query-id"),
        ("q1\td1\t1\nq2\td2\thigh\n", "no integer"),
        ("q1\td1\t0\n", "judges no query"),
    ],
)
def test_malformed_sets_are_refused(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_beir(write_beir(tmp_path / "bad", qrels))


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"corpus\.jsonl is missing"):
        load_beir(tmp_path)
    folder = write_beir(tmp_path / "set", "q1\td1\t1\n")
    (folder / "corpus.jsonl").write_text('{"no_id": 1}\n')
    with pytest.raises(ConfigurationError, match="needs an '_id'"):
        load_beir(folder)
    with pytest.raises(ConfigurationError, match=r"qrels/dev\.tsv is missing"):
        load_beir(folder, split="dev")
