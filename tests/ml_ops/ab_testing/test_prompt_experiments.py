"""`TemplateManager(experiments=ab_tester)`: templates routed by a managed experiment, the
LLM call's record counted through a shared bus with no `track_result`, and the
`production` label following the winner."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ai.core.records import RecordBus
from ai.llm_service import LLMService
from ai.prompts import PromptTemplate, TemplateManager
from ai.testing import FakeProviderServer
from ml_ops.ab_testing import ABTester, Experiment, MemoryExperimentStore, Variant
from ml_ops.ab_testing.totals import VariantTotals
from tests.ai.provider_configs import openai_config
from tests.ml_ops.ab_testing.conftest import MakeTester

USERS = [f"user-{n}" for n in range(24)]


@pytest.fixture
async def prompts() -> AsyncIterator[TemplateManager]:
    """`greet` v1 (production) and v2 (labelled `warm`), both naming the experiment."""
    manager = TemplateManager("memory:", builtins=False)
    await manager.save(PromptTemplate(name="greet", text="Hello {name}", experiment="greeting"))
    await manager.save(
        PromptTemplate(name="greet", text="Welcome, {name}!", experiment="greeting"),
        labels=["warm"],
    )
    yield manager
    await manager.aclose()


def greeting(**changes: object) -> Experiment:
    settings: dict[str, object] = {
        "name": "greeting",
        "variants": [Variant("current", label="production"), Variant("warm", label="warm")],
    }
    settings.update(changes)
    return Experiment(**settings)  # type: ignore[arg-type]


async def test_a_rendered_and_called_template_is_counted_without_track_result(
    tester: ABTester, prompts: TemplateManager, fake: FakeProviderServer
) -> None:
    tester.create_experiment(greeting())
    tester.start_experiment("greeting")
    prompts.experiments = tester  # the same as TemplateManager(experiments=ab_tester)
    bus = RecordBus()
    tester.attach(bus)
    served: dict[str, int] = {}
    async with LLMService(openai_config(fake), bus=bus) as llm:
        for user in USERS:
            rendered = await prompts.render("greet", name="Ada", subject=user)
            again = await prompts.render("greet", name="Ada", subject=user)
            assert (again.variant, again.version) == (rendered.variant, rendered.version)
            served[user] = rendered.version or 0
            await llm.complete(rendered.as_messages(), tags=rendered.call_tags(), user=user)
    summary = tester.get_experiment_summary("greeting")
    versions = {"current": 1, "warm": 2}
    for name, variant in summary["variants"].items():
        expected = sum(1 for v in served.values() if v == versions[name])
        assert variant["results"] == expected and variant["successes"] == expected
        assert variant["exposures"] == 2 * expected  # two renders per user
        assert variant["latency_ms"]["count"] == expected
    assert set(served.values()) == {1, 2}
    assert summary["results"] == len(USERS)


async def test_templates_fall_back_to_production_when_not_running(
    tester: ABTester, prompts: TemplateManager
) -> None:
    prompts.experiments = tester
    assert (await prompts.render("greet", name="Ada", subject="u")).version == 1  # unknown
    tester.create_experiment(greeting())
    tester.refresh("greeting")
    assert (await prompts.render("greet", name="Ada", subject="u")).version == 1  # draft
    tester.start_experiment("greeting")
    tester.pause_experiment("greeting")
    rendered = [await prompts.render("greet", name="Ada", subject=u) for u in USERS]
    assert {r.version for r in rendered} == {1} and {r.variant for r in rendered} == {None}


async def test_the_winner_takes_the_production_label(
    make_tester: MakeTester, prompts: TemplateManager
) -> None:
    store = MemoryExperimentStore()
    tester = make_tester(store, template_manager=prompts)
    prompts.experiments = tester
    tester.create_experiment(
        greeting(auto_complete=True, minimum_sample_size=1_000, template="greet")
    )
    tester.start_experiment("greeting")
    store.add_totals(
        {
            ("greeting", "current", 0): VariantTotals(results=3_000, successes=1_500),
            ("greeting", "warm", 0): VariantTotals(results=3_000, successes=1_800),
        }
    )
    decision = await tester.aevaluate("greeting")
    assert decision is not None and decision["winner"] == "warm"
    assert (await prompts.labels("greet"))["production"] == 2
    state = tester.get_experiment("greeting")
    assert state.status.value == "completed" and state.winner == "warm"
    assert state.promotion is not None and state.promotion["done"] is True
    assert state.promotion["version"] == 2
    rendered = [await prompts.render("greet", name="Ada", subject=u) for u in USERS]
    assert {r.version for r in rendered} == {2}


async def test_the_template_is_learned_from_renders(
    make_tester: MakeTester, prompts: TemplateManager
) -> None:
    tester = make_tester(template_manager=prompts)
    prompts.experiments = tester
    tester.create_experiment(greeting())
    tester.start_experiment("greeting")
    await prompts.render("greet", name="Ada", subject="u1")
    state = tester.complete_experiment("greeting", winner="warm")
    assert state.promotion is not None and state.promotion["template"] == "greet"
    await tester.aclose()  # waits for the label move started from synchronous code
    assert (await prompts.labels("greet"))["production"] == 2


async def test_without_a_manager_the_summary_says_to_move_the_label(tester: ABTester) -> None:
    tester.create_experiment(greeting(template="greet"))
    tester.start_experiment("greeting")
    tester.complete_experiment("greeting", winner="warm")
    await tester.aclose()
    promotion = tester.get_experiment("greeting").promotion
    assert promotion is not None and promotion["done"] is False
    assert "devora prompts label" in promotion["error"]


def test_the_tester_is_a_prompt_experiments_backend(tester: ABTester) -> None:
    from ai.prompts import PromptExperiments

    assert isinstance(tester, PromptExperiments)
    TemplateManager("memory:", experiments=tester)  # accepted as is
