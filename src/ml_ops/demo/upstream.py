"""Where the tour's gateway sends its calls: devora's loopback fakes (no key needed, with
realistic latency and injected faults), or the real providers whose keys are set.

    upstream = await open_upstream(settings, state_dir, os.environ)
    upstream.providers      # the gateway config's `providers:` section
    upstream.fake           # the fake's control API (None for real providers)

With real providers nothing is injected (their own faults are what they are) and the
aliases use the models of the providers whose keys are set (`models.real_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_ops.demo.fake_upstream import FakeUpstream
from ml_ops.demo.faults import fault_rules
from ml_ops.demo.models import FAKE_PLAN, ModelPlan, real_plan
from ml_ops.demo.profile import answer_lengths, latencies
from ml_ops.demo.settings import TourSettings

UPSTREAM_KEY_ENV = "DEVORA_DEMO_UPSTREAM_KEY"
# Provider -> the variable its key is read from, in order of preference for the aliases.
REAL_KEYS: Mapping[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


@dataclass(slots=True)
class Upstream:
    """The providers the gateway is configured with, the environment it reads their keys
    from, the aliases' models, a sentence saying what this is, and the fake (if one)."""

    providers: dict[str, dict[str, Any]]
    environ: Mapping[str, str]
    plan: ModelPlan
    description: str
    fake: FakeUpstream | None = None

    async def start_faults(self, settings: TourSettings) -> None:
        """Post the fault schedule (its windows count from now); nothing for real ones."""
        if self.fake is not None:
            await self.fake.add_faults(fault_rules(settings))

    async def faults_fired(self) -> dict[str, int]:
        """Faults the fake injected, by kind (empty for real providers)."""
        return await self.fake.faults_fired() if self.fake is not None else {}

    async def aclose(self) -> None:
        if self.fake is not None:
            await self.fake.aclose()


def real_providers(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The providers whose API key is set, in `REAL_KEYS` order."""
    return tuple(name for name, variable in REAL_KEYS.items() if environ.get(variable))


async def open_upstream(
    settings: TourSettings, state_dir: Path, environ: Mapping[str, str]
) -> Upstream:
    """Real providers when a key is set, else a started and configured fake."""
    providers = real_providers(environ)
    if providers:
        return Upstream(
            providers={name: {"api_key_env": REAL_KEYS[name]} for name in providers},
            environ=environ,
            plan=real_plan(providers),
            description=f"real providers ({', '.join(providers)}; keys from the environment); "
            "no faults are injected",
        )
    fake = await FakeUpstream.start(state_dir)
    try:
        await fake.set_latency(latencies(settings))
        await fake.set_lengths(answer_lengths(settings))
    except BaseException:
        await fake.aclose()
        raise
    urls = {
        "openai": fake.openai_base_url,
        "anthropic": fake.anthropic_base_url,
        "openrouter": fake.openrouter_base_url,
    }
    return Upstream(
        providers={
            name: {"base_url": url, "api_key_env": UPSTREAM_KEY_ENV} for name, url in urls.items()
        },
        environ={UPSTREAM_KEY_ENV: fake.api_key},
        plan=FAKE_PLAN,
        description=f"devora's loopback fakes of OpenAI, Anthropic and OpenRouter at "
        f"{fake.base_url} (`devora fake-provider`, no key needed)",
        fake=fake,
    )


__all__ = ["REAL_KEYS", "UPSTREAM_KEY_ENV", "Upstream", "open_upstream", "real_providers"]
