"""The words of a decision: what was decided, with the numbers that decided it.

For example: "variant B beats control on success_rate: +4.7% (95% CI +1.9% to +7.5%),
p=7.5e-04 after Holm; n=6,189/6,210 (control/B) >= 5,933 needed; no SRM (p=0.85)".
Effects are relative lifts (absolute differences when the control mean is 0); sample sizes
are listed control first, then the variants in the order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ml_ops.ab_testing.statistics.results import AnalysisMode, Comparison, DecisionStatus
from ml_ops.ab_testing.statistics.srm import SampleRatioCheck

VariantLine = tuple[str, Comparison, float]  # name, comparison, Holm-adjusted p-value


def decision_reason(
    *,
    status: DecisionStatus,
    winner: str | None,
    metric: str,
    control: str,
    mode: AnalysisMode,
    alpha: float,
    sizes: Mapping[str, int],
    minimum_sample_size: int,
    srm: SampleRatioCheck,
    variants: Sequence[VariantLine],
) -> str:
    """One sentence (clauses joined by "; ") explaining `status`."""
    tail = f"{sample_text(sizes, minimum_sample_size)}; {srm_text(srm, list(sizes))}"
    listed = "; ".join(f"{name} {effect_text(c, p, mode)}" for name, c, p in variants)
    if status is DecisionStatus.WINNER:
        _, chosen, chosen_p = next(v for v in variants if v[0] == winner)
        others = [v for v in variants if v[0] != winner]
        effect = effect_text(chosen, chosen_p, mode)
        text = f"variant {winner} beats {control} on {metric}: {effect}"
        if others:
            text += "; others: " + "; ".join(f"{n} {effect_text(c, p, mode)}" for n, c, p in others)
        return f"{text}; {tail}"
    if status is DecisionStatus.CONTROL_WINS:
        return f"{control} beats every variant on {metric}: {listed}; {tail}"
    if status is DecisionStatus.SAMPLE_RATIO_MISMATCH:
        return (
            f"no winner: {srm_text(srm, list(sizes))}; fix assignment or logging before "
            f"trusting any comparison; {listed}; {sample_text(sizes, minimum_sample_size)}"
        )
    if status is DecisionStatus.INSUFFICIENT_SAMPLE:
        return f"no winner yet: {tail}; estimates so far (not final): {listed}"
    prefix = "no winner yet" if mode is AnalysisMode.SEQUENTIAL else "no winner"
    return (
        f"{prefix}: no variant differs significantly from {control} on {metric} "
        f"at alpha={alpha:g}: {listed}; {tail}"
    )


def effect_text(comparison: Comparison, adjusted_p: float, mode: AnalysisMode) -> str:
    """'+4.9% (95% CI +1.2% to +8.6%), p=0.003 after Holm'."""
    level = f"{(1 - comparison.alpha) * 100:g}%"
    label = "always-valid CI" if mode is AnalysisMode.SEQUENTIAL else "CI"
    p_label = "always-valid p" if mode is AnalysisMode.SEQUENTIAL else "p"
    if comparison.relative_lift is not None and comparison.relative_lift_ci is not None:
        value, ci, fmt = comparison.relative_lift, comparison.relative_lift_ci, percent
    else:
        value, ci, fmt = comparison.difference, comparison.difference_ci, signed
    return (
        f"{fmt(value)} ({level} {label} {fmt(ci.lower)} to {fmt(ci.upper)}), "
        f"{p_label}={p_text(adjusted_p)} after Holm"
    )


def sample_text(sizes: Mapping[str, int], minimum_sample_size: int) -> str:
    """'n=6,189/6,210 (control/B) >= 5,800 needed', or which variants are short."""
    counts = "/".join(f"{n:,}" for n in sizes.values())
    text = f"n={counts} ({'/'.join(sizes)})"
    short = [name for name, n in sizes.items() if n < minimum_sample_size]
    if not short:
        return f"{text} >= {minimum_sample_size:,} needed"
    return f"{text}, below the {minimum_sample_size:,} needed for {', '.join(short)}"


def srm_text(srm: SampleRatioCheck, names: Sequence[str]) -> str:
    """'no SRM (p=0.41)' or the mismatch with observed and expected counts."""
    if not srm.mismatch:
        return f"no SRM (p={p_text(srm.p_value)})"
    observed = "/".join(f"{n:,}" for n in srm.observed)
    expected = "/".join(f"{e:,.0f}" for e in srm.expected)
    return (
        f"sample ratio mismatch (p={p_text(srm.p_value)} < {srm.threshold:g}): "
        f"observed {observed} vs expected {expected} ({'/'.join(names)})"
    )


def percent(value: float) -> str:
    """A signed percentage with one decimal ('+4.9%'), more digits when tiny."""
    scaled = value * 100
    return f"{scaled:+.1f}%" if abs(scaled) >= 0.1 or scaled == 0 else f"{scaled:+.2g}%"


def signed(value: float) -> str:
    """A signed number with four significant digits ('+0.01234')."""
    return f"{value:+.4g}"


def p_text(p: float) -> str:
    """'7.5e-04' below 0.001, three decimals below 0.1 ('0.003', '0.050'), else two
    significant digits ('0.41')."""
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2g}"
