"""`ExperimentGuard`: model and parameter experiments routed inside `LLMService`, sticky
per user, tagged, and counted without caller code."""

from __future__ import annotations

import pytest

from ai.core.records import RecordBus, RequestRecord
from ai.errors import StoreError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from ml_ops.ab_testing import (
    ABTester,
    Experiment,
    ExperimentState,
    MemoryExperimentStore,
    Variant,
)
from tests.ai.provider_configs import openai_config
from tests.ml_ops.ab_testing.conftest import MakeTester

HELLO = [{"role": "user", "content": "Hello!"}]
USERS = [f"user-{n}" for n in range(30)]


def models(tester: ABTester, name: str = "models") -> None:
    tester.create_experiment(
        Experiment(
            name=name,
            variants=[
                Variant("mini", model="gpt-4o-mini"),
                Variant("full", model="gpt-4o", parameters={"temperature": 0.2}),
            ],
            primary_metric="cost",
        )
    )
    tester.start_experiment(name)


async def calls(
    fake: FakeProviderServer, tester: ABTester, users: list[str | None], **options: object
) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    bus = RecordBus()
    bus.subscribe(records.append)
    async with LLMService(openai_config(fake), guards=[tester.guard()], bus=bus) as llm:
        for user in users:
            settings = dict(options)
            if user is not None:
                settings["user"] = user
            await llm.complete(HELLO, **settings)  # type: ignore[arg-type]
    return records


async def test_the_guard_routes_models_stickily_per_user(
    tester: ABTester, fake: FakeProviderServer
) -> None:
    models(tester)
    records = await calls(fake, tester, [*USERS, *USERS])
    by_user: dict[str, set[str]] = {}
    for record in records:
        assert record.user is not None
        assert record.model is not None
        by_user.setdefault(record.user, set()).add(record.model)
        assert record.tags["experiment"] == "models"
        variant = "mini" if record.model == "gpt-4o-mini" else "full"
        assert record.tags["variant"] == variant
    assert all(len(seen) == 1 for seen in by_user.values())  # sticky
    assert {m for seen in by_user.values() for m in seen} == {"gpt-4o-mini", "gpt-4o"}
    for user, seen in by_user.items():
        assert seen == {tester.get_variant("models", user).model}
    for record in records:
        (decision,) = record.guard_decisions
        if record.model == "gpt-4o":
            assert decision.changes["temperature"][1] == 0.2
            assert decision.changes["model"] == ("gpt-4o-mini", "gpt-4o")
        else:
            assert set(decision.changes) == {"tags"}
    summary = tester.get_experiment_summary("models")
    assert summary["results"] == 2 * len(USERS)  # counted by the guard, not the caller
    assert sum(v["cost"]["count"] for v in summary["variants"].values()) == 2 * len(USERS)


async def test_attaching_the_bus_as_well_counts_each_call_once(
    tester: ABTester, fake: FakeProviderServer
) -> None:
    models(tester)
    bus = RecordBus()
    tester.attach(bus)
    async with LLMService(openai_config(fake), guards=[tester.guard()], bus=bus) as llm:
        for user in USERS:
            await llm.complete(HELLO, user=user)
    assert tester.get_experiment_summary("models")["results"] == len(USERS)


async def test_anonymous_calls_are_spread_at_random(
    tester: ABTester, fake: FakeProviderServer
) -> None:
    models(tester)
    records = await calls(fake, tester, [None] * 40)
    assert {r.model for r in records} == {"gpt-4o-mini", "gpt-4o"}


@pytest.mark.parametrize("state", ["paused", "stopped", "draft"])
async def test_an_experiment_that_is_not_running_leaves_calls_alone(
    tester: ABTester, fake: FakeProviderServer, state: str
) -> None:
    if state == "draft":
        tester.create_experiment(
            Experiment(name="models", variants=[Variant("a", model="gpt-4o"), Variant("b")])
        )
    else:
        models(tester)
        getattr(tester, {"paused": "pause_experiment", "stopped": "stop_experiment"}[state])(
            "models"
        )
    records = await calls(fake, tester, USERS[:5])
    assert {r.model for r in records} == {"gpt-4o-mini"}  # the config's model
    assert all("experiment" not in r.tags for r in records)


async def test_a_completed_experiment_sends_calls_to_the_winner_untagged(
    tester: ABTester, fake: FakeProviderServer
) -> None:
    models(tester)
    tester.complete_experiment("models", winner="full")
    records = await calls(fake, tester, USERS[:5])
    assert {r.model for r in records} == {"gpt-4o"}
    assert all("experiment" not in r.tags for r in records)


async def test_a_call_in_another_experiment_is_left_alone(
    tester: ABTester, fake: FakeProviderServer
) -> None:
    models(tester)
    records = await calls(
        fake, tester, USERS[:5], tags={"experiment": "greeting", "variant": "warm"}
    )
    assert {r.model for r in records} == {"gpt-4o-mini"}
    assert {r.tags["experiment"] for r in records} == {"greeting"}


async def test_named_experiments_take_priority(tester: ABTester, fake: FakeProviderServer) -> None:
    models(tester, "first")
    models(tester, "second")
    records: list[RequestRecord] = []
    bus = RecordBus()
    bus.subscribe(records.append)
    guard = tester.guard("second", "first")
    async with LLMService(openai_config(fake), guards=[guard], bus=bus) as llm:
        await llm.complete(HELLO, user="alice")
    assert records[0].tags["experiment"] == "second"


async def test_a_broken_store_never_breaks_a_call(
    make_tester: MakeTester, fake: FakeProviderServer
) -> None:
    class Broken(MemoryExperimentStore):
        down = False

        def load_all(self) -> list[ExperimentState]:
            if self.down:
                raise StoreError("the experiment store is down")
            return super().load_all()

    store = Broken()
    tester = make_tester(store)
    models(tester)
    tester.refresh()  # forget the cached states: the next call must read the store
    store.down = True
    records = await calls(fake, tester, USERS[:3])
    assert [r.success for r in records] == [True, True, True]
    assert all("experiment" not in r.tags for r in records)
