"""Argument checks shared by the statistics functions (a bad level is an error, never
silently clipped)."""

from __future__ import annotations


def check_probability(name: str, value: float) -> None:
    """Raise ValueError unless 0 < value < 1 (alpha, power, a rate)."""
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
