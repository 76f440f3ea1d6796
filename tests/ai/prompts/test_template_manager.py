"""TemplateManager through its public API: versions, labels, built-ins, A/B, import/export."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ai.core.clock import FakeClock
from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.experiments import WeightedSplit
from ai.prompts.library import builtin_templates
from ai.prompts.stores.directory import DirectoryTemplateStore
from ai.prompts.stores.memory import MemoryTemplateStore
from ai.prompts.template import PromptTemplate
from ai.prompts.template_manager import TemplateManager


def greeting(text: str, **extra: object) -> PromptTemplate:
    return PromptTemplate.from_dict(
        {"name": "greeting", "category": "general", "text": text, "tags": ["demo"], **extra}
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(clock: FakeClock) -> TemplateManager:
    return TemplateManager(MemoryTemplateStore(), builtins=False, author="ana", clock=clock)


async def test_versions_are_immutable_numbered_and_production_stays_until_moved(
    manager: TemplateManager, clock: FakeClock
) -> None:
    first = await manager.save(greeting("Hello {who}"), note="first")
    clock.advance(60)
    second = await manager.save(greeting("Hi {who}!"), author="ben", note="friendlier")
    assert (first.version, second.version) == (1, 2)
    assert (second.author, second.note) == ("ben", "friendlier")
    assert second.created_at > first.created_at
    assert first.content_hash != second.content_hash
    assert (await manager.get("greeting")).version == 1  # production still on v1
    assert (await manager.get("greeting", label="latest")).version == 2
    assert (await manager.get("greeting", version=2)).render(who="x").text == "Hi x!"
    assert await manager.labels("greeting") == {"production": 1}


async def test_saving_identical_content_creates_no_version(manager: TemplateManager) -> None:
    await manager.save(greeting("Hello {who}"))
    again = await manager.save(greeting("Hello {who}"), note="no change")
    assert again.version == 1
    assert [v.version for v in await manager.versions("greeting")] == [1]


async def test_labels_move_and_rollback_serves_an_old_version(manager: TemplateManager) -> None:
    await manager.save(greeting("v1 {who}"))
    await manager.save(greeting("v2 {who}"), labels=["staging"])
    await manager.save(greeting("v3 {who}"))
    await manager.set_label("greeting", "production", 3)
    assert (await manager.render("greeting", who="a")).text == "v3 a"
    assert (await manager.render("greeting", label="staging", who="a")).text == "v2 a"
    rolled = await manager.rollback("greeting", 1)
    assert rolled.version == 1
    rendered = await manager.render("greeting", who="a")
    assert (rendered.text, rendered.version) == ("v1 a", 1)
    assert rendered.call_tags() == {
        "prompt": "greeting",
        "prompt_version": "1",
        "category": "general",
    }
    assert len(await manager.versions("greeting")) == 3  # a rollback deletes nothing
    await manager.remove_label("greeting", "staging")
    with pytest.raises(TemplateNotFoundError, match="no label 'staging'"):
        await manager.get("greeting", label="staging")


async def test_bad_lookups_are_typed_errors(manager: TemplateManager) -> None:
    await manager.save(greeting("Hello {who}"))
    with pytest.raises(TemplateNotFoundError, match=r"no version 9; it has \[1\]"):
        await manager.get("greeting", version=9)
    with pytest.raises(TemplateNotFoundError, match="did you mean 'greeting'"):
        await manager.get("greetings")
    with pytest.raises(TemplateNotFoundError, match="no version 4"):
        await manager.set_label("greeting", "production", 4)
    with pytest.raises(TemplateError, match="'latest' always means the newest"):
        await manager.set_label("greeting", "latest", 1)
    with pytest.raises(TemplateError, match="not both"):
        await manager.get("greeting", version=1, label="production")


async def test_diff_names_changed_fields_and_shows_lines(manager: TemplateManager) -> None:
    await manager.save(greeting("Hello {who}"))
    await manager.save(greeting("Hello {who}", description="Says hello", tags=["demo", "new"]))
    diff = await manager.diff("greeting", 1, 2)
    assert diff.changed_fields == ("description", "tags")
    assert "--- greeting@v1" in diff.unified and "+++ greeting@v2" in diff.unified
    assert "+description: Says hello" in diff.unified
    assert not (await manager.diff("greeting", 2, 2)).changed


async def test_builtins_are_listed_and_saving_one_copies_it_in_as_version_1(
    clock: FakeClock,
) -> None:
    manager = TemplateManager(MemoryTemplateStore(), clock=clock)
    names = {summary.name for summary in await manager.list_templates()}
    assert set(builtin_templates()) <= names
    shipped = await manager.get("code_review")
    assert (shipped.version, shipped.author) == (1, "devora-ai")
    changed = PromptTemplate.from_dict(
        {**shipped.template.to_dict(), "description": "Our house review."}
    )
    saved = await manager.save(changed, note="house rules")
    assert saved.version == 2
    assert (await manager.get("code_review")).version == 1  # production still the shipped one
    await manager.set_label("code_review", "production", 2)
    assert (await manager.get("code_review")).template.description == "Our house review."
    await manager.rollback("code_review", 1)
    assert (await manager.get("code_review")).content_hash == shipped.content_hash


async def test_list_search_and_categories(manager: TemplateManager) -> None:
    await manager.save(greeting("Hello {who}", description="A friendly opener"))
    await manager.save(
        PromptTemplate.from_dict(
            {
                "name": "audit",
                "category": "security_review",
                "text": "Audit {code}",
                "tags": ["owasp"],
            }
        )
    )
    assert [s.name for s in await manager.list_templates(category="security_review")] == ["audit"]
    assert [s.name for s in await manager.list_templates(tag="DEMO")] == ["greeting"]
    assert [s.name for s in await manager.search("friendly OPENER")] == ["greeting"]
    assert await manager.search("friendly owasp") == []
    assert await manager.categories() == {"general": 1, "security_review": 1}


async def test_experiment_routes_to_labelled_versions_and_records_exposures(
    clock: FakeClock,
) -> None:
    split = WeightedSplit({"tone": {"control": 1, "treatment": 1}}, rng=random.Random(7))
    manager = TemplateManager(MemoryTemplateStore(), builtins=False, experiments=split, clock=clock)
    await manager.save(greeting("Dear {who},", experiment="tone"))
    await manager.save(greeting("Hey {who}!", experiment="tone"))
    await manager.set_label("greeting", "control", 1)
    await manager.set_label("greeting", "treatment", 2)

    seen = {}
    for user in range(200):
        rendered = await manager.render("greeting", who="x", subject=f"user-{user}")
        seen[user] = (rendered.variant, rendered.version, rendered.text)
        assert rendered.call_tags()["experiment"] == "tone"
    assert {v[:2] for v in seen.values()} == {("control", 1), ("treatment", 2)}
    again = await manager.render("greeting", who="x", subject="user-5")
    assert (again.variant, again.version) == seen[5][:2]  # sticky per subject
    counts = split.counts("tone")
    assert sum(counts.values()) == 201
    assert 70 < counts[("control", 1)] < 131  # 50/50 split, loosely
    assert split.exposures[-1].subject == "user-5"

    pinned = await manager.render("greeting", who="x", version=2)
    assert pinned.variant is None  # an explicit version bypasses the experiment
    split.stop("tone")
    plain = await manager.render("greeting", who="x")
    assert (plain.version, plain.variant) == (1, None)


@pytest.mark.parametrize("option", ["subject", "version", "label"])
async def test_a_variable_named_like_a_render_option_is_given_in_the_mapping(
    manager: TemplateManager, option: str
) -> None:
    """`subject=`, `version=` and `label=` are options of `render`: an email template's
    `{subject}` given that way would silently pick the A/B subject (or a version) and
    render the default. So the variable goes in the mapping, and the keyword alone is an
    error saying so."""
    template = greeting(
        f"[{{{option}}}] Hello {{who}}",
        variables={option: {"default": "none"}, "who": {}},
    )
    await manager.save(template)
    await manager.set_label("greeting", "staging", 1)
    value = {"subject": "user-1", "version": 1, "label": "staging"}[option]
    rendered = await manager.render("greeting", {option: "Hi"}, who="a", **{option: value})
    assert rendered.text == "[Hi] Hello a" and rendered.version == 1
    assert (await manager.render("greeting", who="a")).text == "[none] Hello a"
    with pytest.raises(TemplateError, match=rf"'{option}' is both a variable .* values mapping"):
        await manager.render("greeting", who="a", **{option: value})


async def test_variant_that_names_no_version_is_a_clear_error(clock: FakeClock) -> None:
    split = WeightedSplit({"tone": {"v2": 1}})
    manager = TemplateManager(MemoryTemplateStore(), builtins=False, experiments=split, clock=clock)
    await manager.save(greeting("A {who}", experiment="tone"))
    with pytest.raises(TemplateNotFoundError, match="no version 2"):
        await manager.render("greeting", who="x")
    split.define("tone", {"bold": 1})
    with pytest.raises(
        TemplateNotFoundError, match=r"variant 'bold'.*neither a label nor a version"
    ):
        await manager.render("greeting", who="x")


def test_weighted_split_validates_weights() -> None:
    split = WeightedSplit()
    for weights, message in [
        ({}, "at least one variant"),
        ({"a": -1}, "must be >= 0"),
        ({"a": 0}, "sum to zero"),
        ({"a": "1"}, "not a number"),
    ]:
        with pytest.raises(TemplateError, match=message):
            split.define("e", weights)  # type: ignore[arg-type]
    split.define("e", {"off": 0, "on": 3})
    assert {split.assign("e", subject=str(i)) for i in range(50)} == {"on"}
    assert split.assign("unknown", subject="x") is None


async def test_directory_store_persists_across_restarts(tmp_path: Path, clock: FakeClock) -> None:
    async with TemplateManager(tmp_path / "prompts", builtins=False, clock=clock) as first:
        await first.save(greeting("Hello {who}"))
        await first.save(greeting("Hi {who}"), labels=["staging"])
    async with TemplateManager(
        DirectoryTemplateStore(tmp_path / "prompts"), builtins=False
    ) as later:
        assert [v.version for v in await later.versions("greeting")] == [1, 2]
        assert await later.labels("greeting") == {"production": 1, "staging": 2}
        assert (await later.get("greeting", label="staging")).template.text == "Hi {who}"


async def test_export_then_import_keeps_numbers_and_appends_only_new_content(
    tmp_path: Path, clock: FakeClock
) -> None:
    source = TemplateManager(MemoryTemplateStore(), builtins=False, clock=clock)
    await source.save(greeting("one {who}"))
    await source.save(greeting("two {who}"), labels=["staging"])
    paths = await source.export(tmp_path / "out", format="json")
    assert [p.name for p in paths] == ["greeting.json"]

    target = TemplateManager(MemoryTemplateStore(), builtins=False, clock=clock)
    report = await target.import_from(tmp_path / "out")
    assert report.created == ("greeting",)
    assert await target.labels("greeting") == {"production": 1, "staging": 2}
    assert [v.content_hash for v in await target.versions("greeting")] == [
        v.content_hash for v in await source.versions("greeting")
    ]

    await source.save(greeting("three {who}"))
    await source.export(tmp_path / "out", format="json")
    await target.save(greeting("local {who}"))
    report = await target.import_from(tmp_path / "out")
    assert report.appended == {"greeting": (4,)}  # v3 is local, "three" arrives as v4
    texts = [v.template.text for v in await target.versions("greeting")]
    assert texts == ["one {who}", "two {who}", "local {who}", "three {who}"]
    assert not (await target.import_from(tmp_path / "out")).changed


async def test_a_reader_sees_other_writers_and_hand_edits_after_caching(
    tmp_path: Path, clock: FakeClock
) -> None:
    writer = TemplateManager(tmp_path, builtins=False, clock=clock)
    reader = TemplateManager(DirectoryTemplateStore(tmp_path), builtins=False)
    await writer.save(greeting("one {who}"))
    assert (await reader.render("greeting", who="x")).text == "one x"  # now cached
    await writer.save(greeting("two {who}"), labels=["production"])
    assert (await reader.render("greeting", who="x")).text == "two x"
    path = tmp_path / "greeting.yaml"
    path.write_text(path.read_text().replace("two {who}", "TWO {who}"))
    with pytest.raises(TemplateError, match="edited in place"):
        await reader.get("greeting")
