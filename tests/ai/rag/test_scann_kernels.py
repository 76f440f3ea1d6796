"""ScaNN's AVX2 kernels: selected where the CPU has them, the same answers as its SSE4
ones, refused where the CPU lacks them, and left alone on request."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from ai.rag.stores import scann_kernels
from ai.rag.stores.memory_scann import scann_available
from ai.rag.types import VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig


@pytest.fixture
def kernels_restored() -> Iterator[None]:
    """ScaNN loaded as the store loads it; the process-wide flag as that left it, after
    each test."""
    assert scann_available()
    before = scann_kernels.avx2_kernels()
    yield
    scann_kernels.use_avx2_kernels(before)


def test_cpuinfo_is_read_for_both_flags() -> None:
    assert scann_kernels.cpu_supports_avx2("processor : 0\nflags : fpu sse4_2 avx avx2 fma\n")
    assert not scann_kernels.cpu_supports_avx2("flags : fpu sse4_2 avx avx2\n")  # no FMA
    assert not scann_kernels.cpu_supports_avx2("flags : fpu sse4_2 avx fma\n")
    assert not scann_kernels.cpu_supports_avx2("model name : something\n")


async def _store(rows: np.ndarray) -> VectorStore:
    store = VectorStore(VectorStoreConfig(ann_threshold=100, ann_engine="scann"))
    await store.upsert([VectorRecord(str(i), v) for i, v in enumerate(rows)])
    return store


async def test_the_kernels_give_the_same_matches_and_scores(kernels_restored: None) -> None:
    """One index, queried with each kernel set, answers identically (the switch keeps
    the packed layout), and an index built under either answers the same too."""
    if not scann_kernels.cpu_supports_avx2():  # pragma: no cover - CI's machines have it
        if os.environ.get("CI"):
            pytest.fail("this CPU has no AVX2 and FMA, so the AVX2 kernels are untested")
        pytest.skip("this CPU has no AVX2 and FMA")
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((20, 48))
    rows = (centres[rng.integers(0, 20, 2000)] + 0.3 * rng.standard_normal((2000, 48))).astype(
        np.float32
    )
    queries = rng.standard_normal((40, 48)).astype(np.float32)
    assert scann_kernels.use_avx2_kernels(False)
    built_sse4 = await _store(rows)
    sse4 = [await built_sse4.query(q, top_k=10) for q in queries]
    assert scann_kernels.use_avx2_kernels(True) and scann_kernels.avx2_kernels()
    same_index = [await built_sse4.query(q, top_k=10) for q in queries]
    built_avx2 = await _store(rows)
    fresh = [await built_avx2.query(q, top_k=10) for q in queries]
    assert same_index == sse4 and fresh == sse4


def test_they_are_on_after_import_where_the_cpu_has_them() -> None:
    code = (
        "import asyncio, numpy as np; "
        "from ai.rag.vector_store import VectorStore, VectorStoreConfig; "
        "from ai.rag.stores import scann_kernels; "
        "store = VectorStore(VectorStoreConfig(ann_threshold=2, ann_engine='scann')); "
        "asyncio.run(store.upsert([{'id': str(i), 'values': [1.0, float(i)]} for i in range(4)])); "
        "print(scann_kernels.avx2_kernels())"
    )
    env = {k: v for k, v in os.environ.items() if k != scann_kernels.OPT_OUT}
    default = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    assert default.stdout.strip() == str(scann_kernels.cpu_supports_avx2())
    kept = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={**env, scann_kernels.OPT_OUT: "0"},
    )
    assert kept.stdout.strip() == "False"


def test_they_are_refused_on_a_cpu_without_avx2(
    monkeypatch: pytest.MonkeyPatch, kernels_restored: None
) -> None:
    scann_kernels.use_avx2_kernels(False)
    monkeypatch.setattr(scann_kernels, "cpu_supports_avx2", lambda: False)
    assert not scann_kernels.use_avx2_kernels(True)
    assert not scann_kernels.enable_where_supported()
    assert not scann_kernels.avx2_kernels()


def test_nothing_is_set_without_the_library_or_its_symbol(
    monkeypatch: pytest.MonkeyPatch, kernels_restored: None
) -> None:
    monkeypatch.setitem(sys.modules, "scann_pybind", None)
    assert not scann_kernels.use_avx2_kernels(True)
    assert not scann_kernels.avx2_kernels()
    monkeypatch.setitem(
        sys.modules, "scann_pybind", SimpleNamespace(__file__="/nowhere/scann_pybind.so")
    )
    assert not scann_kernels.use_avx2_kernels(True)  # no such library loaded
    monkeypatch.undo()
    monkeypatch.setattr(scann_kernels, "_AVX2_FLAG", "no_such_symbol")
    assert not scann_kernels.use_avx2_kernels(True)
