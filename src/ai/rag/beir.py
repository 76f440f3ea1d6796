"""Labelled retrieval sets in BEIR's folder layout, for `devora rag eval` and benchmarks.

    my-set/
      corpus.jsonl        {"_id": "d1", "title": "...", "text": "..."} one a line
      queries.jsonl       {"_id": "q1", "text": "..."} one a line
      qrels/test.tsv      query-id <tab> corpus-id <tab> score (a header row is optional)

Qrels may also be in TREC's four columns (``query 0 doc score``). Grades are integers;
0 means judged not relevant. Only queries with at least one relevant document are kept
(see `ai.rag.evaluation`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai.errors import ConfigurationError

__all__ = ["BeirCollection", "load_beir"]


@dataclass(frozen=True, slots=True)
class BeirCollection:
    """Documents ready for `ContextRetriever.add_documents`, queries and judgments."""

    name: str
    documents: list[dict[str, Any]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def judgments(self) -> int:
        """How many (query, document) grades there are."""
        return sum(len(graded) for graded in self.qrels.values())

    @property
    def graded(self) -> bool:
        """True when some grade is above 1 (graded rather than binary relevance)."""
        return any(grade > 1 for graded in self.qrels.values() for grade in graded.values())


def load_beir(folder: str | Path, *, split: str = "test") -> BeirCollection:
    """Read a BEIR-layout folder; `ConfigurationError` naming what is missing or malformed.

    A document's text is its title, a blank line, then its text (the title alone
    when the text is empty), so both BM25 and the embedding model see the title.
    """
    root = Path(folder)
    paths = {
        "corpus": root / "corpus.jsonl",
        "queries": root / "queries.jsonl",
        "qrels": root / "qrels" / f"{split}.tsv",
    }
    for path in paths.values():
        if not path.is_file():
            raise ConfigurationError(
                f"{path} is missing: a BEIR folder holds corpus.jsonl, queries.jsonl and "
                f"qrels/{split}.tsv."
            )
    documents = [_document(row) for row in _jsonl(paths["corpus"])]
    asked = {str(row["_id"]): str(row["text"]) for row in _jsonl(paths["queries"])}
    qrels = {
        query: graded
        for query, graded in _qrels(paths["qrels"]).items()
        if query in asked and any(grade > 0 for grade in graded.values())
    }
    if not qrels:
        raise ConfigurationError(f"{paths['qrels']} judges no query of queries.jsonl relevant.")
    return BeirCollection(
        name=root.resolve().name,
        documents=documents,
        queries={query: asked[query] for query in qrels},
        qrels=qrels,
    )


def _document(row: dict[str, Any]) -> dict[str, Any]:
    title = str(row.get("title") or "").strip()
    text = str(row.get("text") or "")
    body = f"{title}\n\n{text}" if title and text else title or text
    return {"id": str(row["_id"]), "text": body}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigurationError(f"{path}:{number}: not JSON ({error}).") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise ConfigurationError(f"{path}:{number}: a row needs an '_id'.")
            yield row


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    judged: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as rows:
        for number, row in enumerate(csv.reader(rows, delimiter="\t"), start=1):
            if not row or (number == 1 and not _is_int(row[-1])):
                continue  # blank line, or the header
            if len(row) == 3:
                query, document, grade = row
            elif len(row) == 4:
                query, _, document, grade = row
            else:
                raise ConfigurationError(
                    f"{path}:{number}: expected query-id, corpus-id, score (tab-separated)."
                )
            if not _is_int(grade):
                raise ConfigurationError(f"{path}:{number}: the score {grade!r} is no integer.")
            judged.setdefault(query, {})[document] = int(grade)
    return judged


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()
