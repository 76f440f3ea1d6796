"""Holm's step-down correction for several variants compared with one control.

With k variants each tested at alpha, the chance that at least one A/A-like variant looks
significant grows towards k * alpha. Holm (1979) controls that family-wise error rate at
alpha under any dependence between the tests (the comparisons share a control, so they are
correlated) and is uniformly more powerful than Bonferroni. It applies to any valid
p-values, the always-valid p-values of the sequential mode included.
"""

from __future__ import annotations

from collections.abc import Sequence


def holm_adjust(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm-adjusted p-values, in the order given: reject hypothesis i at family-wise level
    alpha when its adjusted p-value is <= alpha (as statsmodels' `multipletests` with
    method="holm")."""
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must be in [0, 1], got {p}")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return tuple(adjusted)
