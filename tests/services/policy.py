"""What to do when a service the tests need is missing: skip locally, fail in CI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, NoReturn

import pytest

Outcome = Literal["fail", "skip"]

_TRUTHY = frozenset({"1", "true", "yes", "on"})

#: Environment variables that make a missing service fail the run instead of skipping.
STRICT_VARIABLES = ("CI", "DEVORA_REQUIRE_SERVICES")


def missing_service_outcome(environ: Mapping[str, str] | None = None) -> Outcome:
    """Return ``"fail"`` when CI (or ``DEVORA_REQUIRE_SERVICES``) is truthy, else ``"skip"``.

    In CI a missing Redis or PostgreSQL must never turn integration tests into silent skips.
    """
    env = os.environ if environ is None else environ
    for name in STRICT_VARIABLES:
        if env.get(name, "").strip().lower() in _TRUTHY:
            return "fail"
    return "skip"


def service_unavailable(
    service: str, reason: str, hint: str, environ: Mapping[str, str] | None = None
) -> NoReturn:
    """Fail (CI) or skip (local run) the requesting test with a message saying what to do."""
    if missing_service_outcome(environ) == "fail":
        pytest.fail(
            f"{service} is required but unavailable: {reason}\n"
            f"Fix: {hint}\n"
            f"(This fails instead of skipping because CI or DEVORA_REQUIRE_SERVICES is set.)",
            pytrace=False,
        )
    pytest.skip(f"{service} unavailable: {reason}. Fix: {hint}")
