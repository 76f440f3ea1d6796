"""The tour's parts on their own: settings and time line, the aliases on real providers,
the gateway config it writes, the fault schedule, and the guard that carries a rendered
prompt's tags through OpenAI's `metadata`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.core.guards import PlannedCall
from ai.core.records import Operation
from ai.errors import ConfigurationError
from ml_ops.demo.faults import fault_rules
from ml_ops.demo.gateway_config import write_gateway_config
from ml_ops.demo.models import FAKE_PLAN, real_plan
from ml_ops.demo.prompt_tags import PromptTagsFromMetadata
from ml_ops.demo.settings import TIMELINE, TourSettings
from ml_ops.demo.summary import quantile
from ml_ops.demo.upstream import real_providers


def test_settings_compress_short_tours_and_refuse_tiny_ones() -> None:
    assert TourSettings().pace == 1.0
    short = TourSettings(duration=6)
    assert short.pace == pytest.approx(0.1) and short.at(0.5) == 3.0
    assert TourSettings(duration=120).pace == 1.0 and TourSettings(duration=120).stretch == 2.0
    with pytest.raises(ConfigurationError, match="at least 3"):
        TourSettings(duration=1)
    assert TIMELINE.chapter(0.5).startswith("gpt-4o outage")


def test_the_fault_schedule_puts_the_outage_first_and_scales_with_the_tour() -> None:
    rules = fault_rules(TourSettings(duration=30))
    outage = rules[0]
    assert outage["model"] == "gpt-4o" and outage["status"] == 503
    assert outage["after"] == pytest.approx(30 * TIMELINE.outage.start)
    assert outage["until"] == pytest.approx(30 * TIMELINE.outage.end)
    assert {rule["kind"] for rule in rules} == {"server_error", "rate_limit"}
    assert all(rule.get("retry_after", 0.5) == 0.5 for rule in rules)


def test_real_providers_serve_the_aliases_in_order_of_preference() -> None:
    assert real_providers({}) == ()
    found = real_providers({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"})
    assert found == ("openai", "anthropic")
    plan = real_plan(found)
    fast, smart = plan.aliases
    assert (fast.primary.model, fast.fallbacks[0].model) == ("gpt-4o-mini", "claude-haiku-4-5")
    assert (smart.primary.model, plan.failover_model) == ("gpt-4o", "claude-sonnet-4-5")
    alone = real_plan(("anthropic",))
    assert alone.failover_model is None and alone.aliases[1].primary.model == "claude-sonnet-4-5"


def test_the_written_gateway_config_is_the_one_loaded(tmp_path: Path) -> None:
    providers = {"openai": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "K"}}
    path, config = write_gateway_config(
        FAKE_PLAN, providers, TourSettings(duration=6), tmp_path, {"K": "sk-test"}
    )
    assert path.read_text().startswith("# Written by `devora demo`")
    smart = config.models["smart"]
    assert smart.target.model == "gpt-4o" and smart.fallbacks[0].model == "claude-sonnet-4-5"
    assert smart.settings["circuit_cooldown"] == pytest.approx(0.6)
    assert config.keys.store == str(tmp_path / "gateway_keys.db")
    router = config.routers["auto"]
    assert (router.cheap.name, router.capable.name) == ("fast", "smart")


async def test_prompt_tags_move_from_metadata_to_the_call() -> None:
    guard = PromptTagsFromMetadata()
    call = PlannedCall(
        Operation.CHAT,
        "gpt-4o-mini",
        "openai",
        [{"role": "user", "content": "hi"}],
        parameters={"metadata": {"experiment": "e", "variant": "v", "order": "42"}},
        tags={"team": "support"},
    )
    changed = await guard.before(call)
    assert changed is not None
    assert changed.tags == {"team": "support", "experiment": "e", "variant": "v"}
    assert changed.parameters["metadata"] == {"order": "42"}
    only_tags = call.replace(parameters={"metadata": {"prompt": "support_reply"}})
    moved = await guard.before(only_tags)
    assert moved is not None and "metadata" not in moved.parameters
    assert await guard.before(call.replace(parameters={})) is None


def test_quantiles_are_nearest_rank() -> None:
    assert quantile([], 0.5) is None
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([float(i) for i in range(1, 101)], 0.95) == 95.0
