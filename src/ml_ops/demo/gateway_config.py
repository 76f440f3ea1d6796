"""The tour's gateway configuration, written as `devora.yaml` in the state folder and
read back with `load_gateway_config`, so what the tour runs is a file you can read and
reuse with `devora serve --config`.

Each model alias gets the resilience settings of a production config, with the waits
compressed like the rest of the tour: three retries from a 0.5 s delay, a circuit breaker
that opens after four failures and tries again after a 6 s cool-down. The router alias
(`kind: router`) chooses between two of them per request, with the default rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ml_ops.demo.models import ModelPlan
from ml_ops.demo.settings import TourSettings
from ml_ops.gateway import GatewayConfig, load_gateway_config


def gateway_section(
    plan: ModelPlan, providers: dict[str, dict[str, Any]], settings: TourSettings, state: Path
) -> dict[str, Any]:
    """The `gateway:` mapping (see docs/gateway.md)."""
    resilience = {
        "timeout": 60.0,
        "max_retries": 3,
        "retry_delay": round(0.5 * settings.pace, 4),
        "circuit_failure_threshold": 4,
        "circuit_cooldown": round(6.0 * settings.pace, 4),
    }
    models = {
        alias.name: {
            "provider": alias.primary.provider,
            "model": alias.primary.model,
            "fallbacks": [{"provider": t.provider, "model": t.model} for t in alias.fallbacks],
            "settings": resilience,
        }
        for alias in plan.aliases
    }
    router = plan.router
    models[router.name] = {"kind": "router", "cheap": router.cheap, "capable": router.capable}
    return {
        "providers": providers,
        "models": models,
        "keys": {
            "store": str(state / "gateway_keys.db"),
            "secret_file": str(state / "gateway.secret"),
        },
    }


def write_gateway_config(
    plan: ModelPlan,
    providers: dict[str, dict[str, Any]],
    settings: TourSettings,
    state: Path,
    environ: dict[str, str],
) -> tuple[Path, GatewayConfig]:
    """Write `state/devora.yaml` and load it as `devora serve` would."""
    path = state / "devora.yaml"
    section = gateway_section(plan, providers, settings, state)
    path.write_text(
        "# Written by `devora demo`: the gateway this tour runs.\n"
        + yaml.safe_dump({"gateway": section}, sort_keys=False),
        encoding="utf-8",
    )
    return path, load_gateway_config(path, environ=environ)


__all__ = ["gateway_section", "write_gateway_config"]
