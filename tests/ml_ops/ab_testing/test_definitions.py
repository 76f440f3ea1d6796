"""`Experiment` and `Variant`: validated when built, stored and read back as they are, and
the `LLMService.complete` arguments a variant stands for."""

from __future__ import annotations

import json

import pytest

from ai.core.records import TagKey
from ai.errors import ConfigurationError
from ai.prompts import PromptTemplate, TemplateManager
from ml_ops.ab_testing import (
    Allocation,
    AnalysisMode,
    Direction,
    Experiment,
    ExperimentNotFoundError,
    Variant,
    apply,
)


def two(*changes: Variant) -> list[Variant]:
    return list(changes) or [Variant("a"), Variant("b")]


def test_defaults_and_names() -> None:
    experiment = Experiment(name="prompt_test", variants=two())
    assert experiment.control == "a"
    assert experiment.salt == "prompt_test"
    assert experiment.mode is AnalysisMode.FIXED_HORIZON
    assert experiment.allocation is Allocation.FIXED
    assert experiment.direction_of("success_rate") is Direction.HIGHER_IS_BETTER
    assert experiment.direction_of("latency_ms") is Direction.LOWER_IS_BETTER
    assert experiment.direction_of("rating") is Direction.HIGHER_IS_BETTER
    assert [v.experiment for v in experiment.variants] == ["prompt_test", "prompt_test"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": [Variant("a")]}, "at least two"),
        ({"variants": [Variant("a"), Variant("a")]}, "repeat"),
        ({"variants": [Variant("a", weight=0), Variant("b", weight=0)]}, "sum to zero"),
        ({"control": "c"}, "control 'c'"),
        ({"name": "bad name"}, "not a valid name"),
        ({"mode": "peeking"}, "fixed_horizon, sequential"),
        ({"alpha": 1.5}, "alpha"),
        ({"min_detectable_effect": 0}, "min_detectable_effect"),
        ({"baseline": 1.5}, "baseline of success_rate is a rate"),
        ({"baseline": 0.0}, "baseline of success_rate is a rate"),
        ({"minimum_sample_size": 0}, "minimum_sample_size"),
        ({"primary_metric": "9lives"}, "not a metric name"),
        ({"covariate": "success_rate"}, "covariate"),
        ({"allocation": "bandit", "primary_metric": "cost"}, "bandit"),
        ({"directions": {"rating": "sideways"}}, "higher_is_better"),
    ],
)
def test_invalid_experiments_are_refused(changes: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"name": "x", "variants": two()}
    settings.update(changes)
    with pytest.raises(ConfigurationError, match=message):
        Experiment(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weight": -1}, "weight"),
        ({"weight": float("nan")}, "weight"),
        ({"parameters": {"temprature": 0.2}}, "unknown call parameter"),
        ({"prompt_template": "Hi {user.name}"}, "prompt_template"),
        ({"prompt_template": "x", "template": "t"}, "not both"),
        ({"version": 2, "label": "staging"}, "not both"),
        ({"version": 0}, "version"),
    ],
)
def test_invalid_variants_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Variant("a", **changes)  # type: ignore[arg-type]


def test_the_stored_form_reads_back_equal() -> None:
    experiment = Experiment(
        name="models",
        description="mini vs full",
        variants=[
            Variant("mini", model="gpt-4o-mini", parameters={"temperature": 0.2}, weight=3),
            Variant("full", model="gpt-4o", description="the expensive one"),
        ],
        primary_metric="cost",
        mode="sequential",  # type: ignore[arg-type]
        directions={"rating": "higher_is_better"},  # type: ignore[dict-item]
        covariate="last_week_cost",
        auto_complete=True,
    )
    data = json.loads(json.dumps(experiment.to_dict()))
    assert Experiment.from_dict(data) == experiment
    assert Experiment.from_dict(data).to_dict() == experiment.to_dict()
    with pytest.raises(ConfigurationError, match="unknown key"):
        Experiment.from_dict({**data, "primary_metrc": "cost"})


def test_variants_are_found_by_name_label_or_version() -> None:
    experiment = Experiment(
        name="tone",
        variants=[Variant("current", label="production"), Variant("warm", version=3)],
    )
    assert experiment.resolve("production").name == "current"  # type: ignore[union-attr]
    assert experiment.resolve("v3").name == "warm"  # type: ignore[union-attr]
    assert experiment.resolve("3").name == "warm"  # type: ignore[union-attr]
    assert experiment.resolve("warm").name == "warm"  # type: ignore[union-attr]
    assert experiment.resolve("staging") is None
    with pytest.raises(ExperimentNotFoundError, match="no variant 'cold'"):
        experiment.variant("cold")


def test_call_arguments_render_the_prompt_and_tag_the_call() -> None:
    experiment = Experiment(
        name="prompt_test",
        variants=[
            Variant("concise", prompt_template="Generate {task}", model="gpt-4o-mini"),
            Variant("hot", prompt_template="Create {task}", parameters={"temperature": 0.9}),
        ],
    )
    concise, hot = experiment.variants
    assert concise.call_arguments(task="a parser") == {
        "messages": [{"role": "user", "content": "Generate a parser"}],
        "model": "gpt-4o-mini",
        "tags": {TagKey.EXPERIMENT.value: "prompt_test", TagKey.VARIANT.value: "concise"},
    }
    arguments = hot.call_arguments({"task": "{not a placeholder}"})
    assert arguments["messages"][0]["content"] == "Create {not a placeholder}"
    assert arguments["temperature"] == 0.9 and "model" not in arguments


def test_a_model_variant_takes_the_callers_messages() -> None:
    variant = Experiment(name="m", variants=[Variant("a", model="x"), Variant("b")]).variants[0]
    arguments = variant.call_arguments(messages=[{"role": "user", "content": "Hi"}])
    assert arguments["messages"] == [{"role": "user", "content": "Hi"}]
    with pytest.raises(ConfigurationError, match="exactly one source"):
        variant.call_arguments()


async def test_apply_renders_a_template_variant() -> None:
    prompts = TemplateManager("memory:", builtins=False)
    await prompts.save(PromptTemplate(name="greet", text="Hello {name}"))
    await prompts.save(PromptTemplate(name="greet", text="Welcome, {name}!"), labels=["warm"])
    experiment = Experiment(
        name="greeting",
        variants=[
            Variant("plain", template="greet", version=1),
            Variant("warm", template="greet", label="warm", model="gpt-4o"),
        ],
    )
    plain, warm = experiment.variants
    arguments = await apply(warm, {"name": "Ada"}, manager=prompts)
    assert arguments["messages"] == [{"role": "user", "content": "Welcome, Ada!"}]
    assert arguments["model"] == "gpt-4o"
    assert {
        "prompt": "greet",
        "prompt_version": "2",
        "experiment": "greeting",
        "variant": "warm",
    }.items() <= arguments["tags"].items()
    assert (await apply(plain, name="Ada", manager=prompts))["messages"][0]["content"] == (
        "Hello Ada"
    )
    with pytest.raises(ConfigurationError, match="manager="):
        await apply(plain, name="Ada")
