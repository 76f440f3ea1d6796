"""`VectorStoreConfig`: a field the chosen backend does not read is an error, not ignored.

The cases are derived from the backends' declarations in `BACKENDS`, so a new field or a
new backend is covered without touching this file (beyond a sample value for the field).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from ai.errors import ConfigurationError
from ai.rag.vector_store import (
    BACKENDS,
    COMMON_FIELDS,
    DEFAULT_ANN_THRESHOLD,
    DEFAULT_INDEX_NAME,
    NOT_GIVEN,
    HnswSettings,
    VectorStore,
    VectorStoreConfig,
    VectorStoreType,
    backend_types,
)

DOCS = Path(__file__).parents[3] / "docs" / "vector-stores.md"
CONFIG_FIELDS = [f.name for f in dataclasses.fields(VectorStoreConfig)]
BACKEND_FIELDS = [name for name in CONFIG_FIELDS if name not in COMMON_FIELDS]

#: Values a user might give each backend field; the documented defaults are among them,
#: since passing a default explicitly to the wrong backend must be caught too.
SAMPLES: dict[str, list[Any]] = {
    "connection_string": ["postgresql://devora@127.0.0.1/db"],
    "api_key": ["pcsk_key"],
    "index_name": [DEFAULT_INDEX_NAME, "docs"],
    "index_host": ["http://127.0.0.1:1"],
    "ann_threshold": [DEFAULT_ANN_THRESHOLD, None, 10],
    "hnsw_m": [HnswSettings().m, 32],
    "hnsw_ef_construction": [HnswSettings().ef_construction],
    "hnsw_ef_search": [HnswSettings().ef_search],
    "ann_engine": ["scann", "usearch"],
    "persist_path": ["vectors.npz"],
}


def _cases(*, used: bool) -> list[Any]:
    return [
        pytest.param(store_type, name, value, id=f"{store_type.value}-{name}={value!r}")
        for store_type, spec in BACKENDS.items()
        for name in BACKEND_FIELDS
        if (name in spec.fields) is used
        for value in SAMPLES.get(name, ["<no sample>"])
    ]


def _require_samples(name: str) -> None:
    assert name in SAMPLES, f"add sample values for VectorStoreConfig.{name} to SAMPLES"


@pytest.mark.parametrize(("store_type", "name", "value"), _cases(used=False))
def test_a_field_the_backend_does_not_read_is_an_error(
    store_type: VectorStoreType, name: str, value: Any
) -> None:
    _require_samples(name)
    with pytest.raises(ConfigurationError) as caught:
        VectorStoreConfig(store_type=store_type, **{name: value})
    message = str(caught.value)
    assert f"store_type={store_type.value!r}" in message
    assert f"does not use {name};" in message
    readers = " or ".join(repr(t.value) for t in backend_types(name))
    assert f"remove it, or set store_type={readers}." in message


@pytest.mark.parametrize(("store_type", "name", "value"), _cases(used=True))
def test_a_field_the_backend_reads_is_accepted(
    store_type: VectorStoreType, name: str, value: Any
) -> None:
    _require_samples(name)
    config = VectorStoreConfig(store_type=store_type, **{name: value})
    assert getattr(config, name) == value
    assert config.given_fields() == [name]


def test_every_field_belongs_to_the_front_or_a_backend_and_defaults_to_not_given() -> None:
    for name in BACKEND_FIELDS:
        assert backend_types(name), f"no backend reads VectorStoreConfig.{name}"
        default = next(f.default for f in dataclasses.fields(VectorStoreConfig) if f.name == name)
        assert default is None or default is NOT_GIVEN, name
    for spec in BACKENDS.values():
        assert spec.fields <= set(BACKEND_FIELDS)  # a misspelt declaration
    assert set(CONFIG_FIELDS) >= COMMON_FIELDS
    assert VectorStoreConfig().given_fields() == []


def test_the_spec_configs_build_as_written() -> None:
    memory = VectorStoreConfig(store_type=VectorStoreType.MEMORY, dimension=1536)
    pgvector = VectorStoreConfig(
        store_type=VectorStoreType.PGVECTOR,
        connection_string="postgresql://...",
        dimension=1536,
    )
    pinecone = VectorStoreConfig(
        store_type=VectorStoreType.PINECONE,
        api_key="your_key",
        index_name="devora-embeddings",
        dimension=1536,
    )
    assert pgvector.resolved_connection_string() == "postgresql://..."
    assert pinecone.resolved_api_key() == "your_key"
    for config in (memory, pgvector, pinecone):
        assert config.dimension == 1536
        assert config.resolved_index_name() == "devora-embeddings"
        assert config.resolved_hnsw() == HnswSettings(m=16, ef_construction=64, ef_search=100)
    assert memory.resolved_ann_threshold() == 50_000
    assert VectorStore(memory).dimension == 1536


def test_not_given_fields_take_the_documented_defaults_and_given_ones_win() -> None:
    config = VectorStoreConfig(hnsw_ef_search=40, ann_threshold=None)
    assert config.resolved_hnsw() == HnswSettings(m=16, ef_construction=64, ef_search=40)
    assert config.resolved_ann_threshold() is None
    pgvector = VectorStoreConfig(store_type=VectorStoreType.PGVECTOR, index_name="docs", hnsw_m=8)
    assert pgvector.resolved_index_name() == "docs"
    assert pgvector.resolved_hnsw().m == 8


def test_the_message_names_every_unused_field() -> None:
    with pytest.raises(ConfigurationError) as caught:
        VectorStoreConfig(api_key="k", index_host="http://127.0.0.1:1", index_name="x")
    assert str(caught.value) == (
        "VectorStoreConfig(store_type='memory') does not use api_key, index_name, "
        "index_host; remove them, or set store_type='pinecone'."
    )


def test_when_no_backend_reads_every_field_given_the_message_says_who_reads_each() -> None:
    with pytest.raises(ConfigurationError) as caught:
        VectorStoreConfig(store_type=VectorStoreType.PGVECTOR, api_key="k", persist_path="v.npz")
    assert str(caught.value) == (
        "VectorStoreConfig(store_type='pgvector') does not use "
        "api_key (read by store_type='pinecone'), persist_path (read by store_type='memory'); "
        "remove them."
    )


def test_switching_the_backend_with_replace_checks_again() -> None:
    pinecone = VectorStoreConfig(store_type=VectorStoreType.PINECONE, api_key="k")
    with pytest.raises(ConfigurationError, match="does not use api_key"):
        dataclasses.replace(pinecone, store_type=VectorStoreType.MEMORY)


def test_the_store_checks_a_config_changed_after_it_was_built() -> None:
    config = VectorStoreConfig()
    config.api_key = "k"
    with pytest.raises(ConfigurationError, match="does not use api_key"):
        VectorStore(config)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"store_type": "memroy"}, "'memroy' is not one of 'memory', 'pgvector', 'pinecone'"),
        ({"index_name": "", "store_type": "pgvector"}, "index_name is empty"),
        ({"hnsw_m": 1}, "hnsw_m >= 2"),
        ({"hnsw_ef_search": 0, "store_type": "pgvector"}, "HNSW settings must be positive"),
        ({"dimension": 0}, "dimension must be >= 1"),
        ({"ann_engine": "faiss"}, "ann_engine must be one of scann, usearch"),
    ],
)
def test_invalid_values_are_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        VectorStoreConfig(**options)


def test_the_docs_table_matches_the_declarations() -> None:
    table = DOCS.read_text(encoding="utf-8").split("## Settings per backend", 1)[1]
    header = re.search(r"^\| field \|.*\|$", table, re.MULTILINE)
    assert header is not None
    columns = [cell.strip() for cell in header.group(0).strip("|").split("|")]
    documented: set[str] = set()
    for line in table[header.end() :].strip().splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for name in re.findall(r"`(\w+)`", cells[0]):
            documented.add(name)
            for store_type in VectorStoreType:
                reads = cells[columns.index(store_type.value)] == "yes"
                assert reads is (store_type in backend_types(name)), (name, store_type)
    assert documented == set(CONFIG_FIELDS)
