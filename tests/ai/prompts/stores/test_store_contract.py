"""The `TemplateStore` contract, through the public API, on every backend.

Memory, a directory (tmp_path), SQLite (tmp_path) and PostgreSQL (a fresh schema per test).
Durability, tampering and multi-process tests leave out memory, which keeps nothing.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.rendered import ModelHints
from ai.prompts.stores import MemoryTemplateStore
from ai.prompts.template import PromptMessage, PromptTemplate, Role
from ai.prompts.variables import TemplateVariable
from ai.prompts.versions import TemplateHistory, VersionDraft
from tests.ai.prompts.stores.conftest import ALL_BACKENDS, DURABLE_BACKENDS, Backend, draft

every_backend = pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)
durable_backend = pytest.mark.parametrize("backend", DURABLE_BACKENDS, indirect=True)


def texts(history: TemplateHistory | None) -> list[str | None]:
    assert history is not None
    return [version.template.text for version in history.versions]


# --- numbering and content ---------------------------------------------------------------


@every_backend
async def test_versions_are_numbered_from_one(backend: Backend) -> None:
    store = backend.open()
    assert await store.load("greet") is None
    assert await store.names() == []
    results = [await store.append("greet", draft(t)) for t in ("A {x}", "B {x}", "C {x}")]
    assert [(version.version, created) for version, created in results] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    await store.append("other", draft("Z", name="other"))
    history = await store.load("greet")
    assert history is not None
    assert [v.version for v in history.versions] == [1, 2, 3]
    assert texts(history) == ["A {x}", "B {x}", "C {x}"]
    assert history.latest.author == "tester" and history.latest.note == "note for 'C {x}'"
    assert await store.names() == ["greet", "other"]


@every_backend
async def test_identical_content_creates_no_version(backend: Backend) -> None:
    store = backend.open()
    first, created = await store.append("greet", draft("Hello {who}"))
    again, created_again = await store.append("greet", draft("Hello {who}", author="someone"))
    assert (created, created_again) == (True, False)
    assert again == first  # the stored version, author and all
    await store.append("greet", draft("Hi {who}"))
    # Identical to an older version but not the newest: a revert is a new version.
    reverted, created = await store.append("greet", draft("Hello {who}"))
    assert (reverted.version, created) == (3, True)
    assert texts(await store.load("greet")) == ["Hello {who}", "Hi {who}", "Hello {who}"]


@every_backend
async def test_template_round_trips_exactly(backend: Backend) -> None:
    """Everything a template holds comes back, variable order included (jsonb would sort
    the `variables` keys and so reorder the declarations)."""
    template = PromptTemplate(
        name="review",
        messages=(
            PromptMessage(Role.SYSTEM, "Reviewer for {zeta} — «ünïcode» ✓"),
            PromptMessage(Role.USER, "Review {alpha} in {mid}"),
        ),
        variables=(
            TemplateVariable("zeta", description="last letter"),
            TemplateVariable("alpha"),
            TemplateVariable("mid", default="python"),
        ),
        model_hints=ModelHints(model="gpt-4o", temperature=0.2, max_tokens=512),
        tags=("code", "review"),
        example={"zeta": "z", "alpha": "a"},
    )
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    store = backend.open()
    stored, _ = await store.append("review", VersionDraft(template, "ann", "first", moment))
    loaded = await backend.open().load("review")  # a new store object where durable
    assert loaded is not None
    assert loaded.latest.template == template
    assert loaded.latest.template.variable_names == ("zeta", "alpha", "mid")
    assert loaded.latest.content_hash == stored.content_hash
    assert loaded.latest.created_at == moment  # the same instant, whatever the zone


# --- labels ------------------------------------------------------------------------------


@every_backend
async def test_labels_move_and_must_point_at_a_version(backend: Backend) -> None:
    store = backend.open()
    await store.append("greet", draft("A {x}"), labels=["production"])
    await store.append("greet", draft("B {x}"), labels=["staging"])
    history = await store.set_label("greet", "production", 2)
    assert dict(history.labels) == {"production": 2, "staging": 2}
    await store.set_label("greet", "production", 1)
    history = await store.load("greet")
    assert history is not None and dict(history.labels) == {"production": 1, "staging": 2}
    assert history.labelled("production").template.text == "A {x}"

    with pytest.raises(TemplateNotFoundError, match="no version 7"):
        await store.set_label("greet", "production", 7)
    with pytest.raises(TemplateNotFoundError):
        await store.set_label("missing", "production", 1)
    with pytest.raises(TemplateNotFoundError, match="no label 'canary'"):
        await store.remove_label("greet", "canary")
    with pytest.raises(TemplateError, match="latest"):
        await store.set_label("greet", "latest", 1)
    history = await store.load("greet")
    assert history is not None and dict(history.labels) == {"production": 1, "staging": 2}

    await store.remove_label("greet", "staging")
    history = await store.load("greet")
    assert history is not None and dict(history.labels) == {"production": 1}
    # Identical content creates nothing, but the labels asked for still move to it.
    await store.append("greet", draft("B {x}"), labels=["production"])
    history = await store.load("greet")
    assert history is not None and dict(history.labels) == {"production": 2}


# --- whole histories and refused changes --------------------------------------------------


async def _source_history() -> TemplateHistory:
    source = MemoryTemplateStore()
    await source.append("greet", draft("One {x}", author="ann"), labels=["production"])
    await source.append("greet", draft("Two {x}", author="bob"), labels=["staging"])
    history = await source.load("greet")
    assert history is not None
    return history


@every_backend
async def test_put_history_imports_a_new_template_only(backend: Backend) -> None:
    imported = await _source_history()
    store = backend.open()
    await store.put_history(imported)
    loaded = await store.load("greet")
    assert loaded is not None
    assert loaded.versions == imported.versions
    assert dict(loaded.labels) == {"production": 1, "staging": 2}
    with pytest.raises(TemplateError, match="already exists"):
        await store.put_history(imported)
    version, _ = await store.append("greet", draft("Three {x}"))
    assert version.version == 3


@every_backend
async def test_stored_versions_cannot_be_changed(backend: Backend) -> None:
    store = backend.open()
    await store.append("greet", draft("A {x}"))
    await store.append("greet", draft("B {x}"))
    other = draft("Evil {x}").template

    def rewrite_first(history: TemplateHistory | None) -> TemplateHistory:
        assert history is not None
        first = replace(history.versions[0], template=other, content_hash="sha256:0")
        return replace(history, versions=(first, *history.versions[1:]))

    with pytest.raises(TemplateError, match="immutable"):
        await store.update("greet", rewrite_first)
    assert texts(await store.load("greet")) == ["A {x}", "B {x}"]


@every_backend
async def test_failed_change_stores_nothing(backend: Backend) -> None:
    store = backend.open()

    def broken(history: TemplateHistory | None) -> TemplateHistory:
        raise TemplateError("refused by the caller")

    with pytest.raises(TemplateError, match="refused by the caller"):
        await store.update("greet", broken)
    with pytest.raises(TemplateError, match="cannot store template"):
        await store.append("greet", draft("A {x}", name="other"))
    assert await store.names() == []
    await store.append("greet", draft("A {x}"))
    assert texts(await store.load("greet")) == ["A {x}"]


# --- durability and tampering -----------------------------------------------------------


@durable_backend
async def test_history_survives_a_restart(backend: Backend) -> None:
    first = backend.open()
    await first.append("greet", draft("A {x}"), labels=["production"])
    await first.append("greet", draft("B {x}"))
    before = await first.load("greet")
    await first.aclose()

    reopened = backend.open()
    after = await reopened.load("greet")
    assert after is not None and before is not None
    assert after.versions == before.versions
    assert dict(after.labels) == {"production": 1}
    assert await reopened.names() == ["greet"]
    version, created = await reopened.append("greet", draft("C {x}"))
    assert (version.version, created) == (3, True)


@durable_backend
async def test_a_version_edited_behind_the_store_is_refused(backend: Backend) -> None:
    store = backend.open()
    await store.append("greet", draft("Hello {who}"))
    await store.append("greet", draft("Hi {who}"))
    assert backend.tamper is not None
    await backend.tamper("greet", 1, "Send me your password, {who}")
    with pytest.raises(TemplateError, match=r"version 1 was edited in place"):
        await backend.open().load("greet")
    with pytest.raises(TemplateError, match=r"version 1 was edited in place"):
        await store.append("greet", draft("Third {who}"))  # writes read (and check) first


# --- concurrency -----------------------------------------------------------------------


async def _write_many(backend: Backend, writer: str, count: int) -> None:
    store = backend.open()
    for i in range(count):
        await store.append(
            "shared", draft(f"{writer} item {i}: {{who}}", name="shared", author=writer)
        )


def _expected(writers: list[str], count: int) -> set[str]:
    return {f"{writer} item {i}: {{who}}" for writer in writers for i in range(count)}


async def _assert_numbered_without_loss(backend: Backend, expected: set[str]) -> None:
    history = await backend.open().load("shared")
    assert history is not None
    assert [v.version for v in history.versions] == list(range(1, len(expected) + 1))
    assert sorted(map(str, texts(history))) == sorted(expected)  # nothing lost, no repeats


@every_backend
async def test_concurrent_writers_on_separate_stores(backend: Backend) -> None:
    """Each writer has its own store object (own connection or file handle); memory has
    nothing to share between objects, so its writers share one."""
    writers = [f"w{n}" for n in range(6)]
    await asyncio.gather(*(_write_many(backend, writer, 5) for writer in writers))
    await _assert_numbered_without_loss(backend, _expected(writers, 5))


WRITER_SCRIPT = """
import asyncio, pathlib, sys
from datetime import UTC, datetime
from ai.prompts.stores import open_template_store
from ai.prompts.template import PromptTemplate
from ai.prompts.versions import VersionDraft

location, writer, count, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

async def main():
    store = open_template_store(location)
    (pathlib.Path(sync) / ("ready-" + writer)).touch()
    while not (pathlib.Path(sync) / "go").exists():
        await asyncio.sleep(0.002)
    try:
        for i in range(count):
            text = f"{writer} item {i}: {{who}}"
            template = PromptTemplate(name="shared", text=text)
            draft = VersionDraft(template, writer, "", datetime.now(UTC))
            await store.append("shared", draft)
    finally:
        await store.aclose()

asyncio.run(main())
"""


@durable_backend
async def test_concurrent_writers_in_separate_processes(backend: Backend, tmp_path: Path) -> None:
    """Two OS processes and this one append at the same moment (a start barrier)."""
    sync = tmp_path / "barrier"
    sync.mkdir()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER_SCRIPT,
            backend.location,
            writer,
            "12",
            str(sync),
            stderr=asyncio.subprocess.PIPE,
        )
        for writer in ("p1", "p2")
    ]
    try:
        async with asyncio.timeout(60):
            while len(list(sync.glob("ready-*"))) < 2:
                crashed = [p for p in processes if p.returncode is not None]
                assert not crashed, (await crashed[0].communicate())[1].decode()
                await asyncio.sleep(0.01)
        (sync / "go").touch()
        await _write_many(backend, "local", 12)
        for process in processes:
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, stderr.decode()
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    await _assert_numbered_without_loss(backend, _expected(["p1", "p2", "local"], 12))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_database_stores_refuse_what_they_could_not_load(backend: Backend) -> None:
    """A write that would leave a history no read accepts is refused before it is stored."""
    store = backend.open()
    naive = replace(draft("A {x}"), created_at=datetime(2024, 1, 1))
    with pytest.raises(TemplateError, match="no time zone"):
        await store.append("greet", naive)
    history = await _source_history()
    with pytest.raises(TemplateError, match="cannot store template 'greet' under name 'other'"):
        await store.update("other", lambda _: history)
    forged = replace(history.versions[0], content_hash="sha256:" + "0" * 64)
    with pytest.raises(TemplateError, match="does not match its content"):
        await store.put_history(replace(history, versions=(forged, history.versions[1])))
    renamed = replace(history.versions[1], name="other")
    with pytest.raises(TemplateError, match="cannot store version 2 of 'greet' under name 'other'"):
        await store.put_history(TemplateHistory("other", (renamed,)))
    assert await store.names() == []
