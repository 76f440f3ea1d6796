"""The tour's result: `TourSummary`, computed from what users saw (the SDK's side), the
records the gateway left (cost, cache, routing, retries, fallbacks, downgrades), what the
fake injected, the watch's breakers and alerts, the experiment and the budget; and the
Rich table that shows it.

Savings are priced with the pricing table the records were priced with: a cache hit
saved what the original call cost (`record.saved_cost`); a routed call that reached the
provider saved the difference to its capable model (`ai.routing.routing_savings`; a
routed call the cache answered counts as the cache's saving); a downgraded call the
difference to the model it asked for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.table import Table

from ai.accounting.pricing import PricingTable
from ai.core.records import Operation, RequestRecord, TagKey
from ai.routing import routing_savings
from ml_ops.demo.client import CallResult
from ml_ops.demo.experiment import Decision
from ml_ops.demo.watch import BUDGET_GUARD


@dataclass(frozen=True, slots=True)
class BudgetOutcome:
    """The downgrading budget at the end: limit, spend, share used, alerts fired (as
    fractions of the limit) and how many calls it downgraded."""

    name: str
    limit: float
    spent: float
    used: float
    alerts: tuple[float, ...]
    downgraded_calls: int


@dataclass(frozen=True, slots=True)
class TourSummary:
    """Everything the summary table shows, as values (the tests read these)."""

    duration_s: float
    upstream: str
    calls: int
    calls_by_stream: dict[str, int]
    streamed_calls: int
    users: int
    teams: int
    cost_usd: float
    cache_hits: int
    cache_saved_usd: float
    router_decisions: int
    routed_calls: int
    routing_saved_usd: float
    downgraded_calls: int
    downgrade_saved_usd: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    ttft_p50_s: float | None
    faults_injected: dict[str, int]
    faults_absorbed: int
    fallback_answers: int
    user_errors: int
    user_error_kinds: dict[str, int]
    breaker_changes: tuple[str, ...]
    breaker_opened: bool
    experiment: Decision | None
    budget: BudgetOutcome | None
    alerts_fired: tuple[str, ...]
    alerts_resolved: tuple[str, ...]
    rag_documents: int = 0
    rag_chunks: int = 0
    rag_answers: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def faults_injected_total(self) -> int:
        return sum(self.faults_injected.values())


def quantile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q` quantile, None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def downgrade_savings(records: Iterable[RequestRecord], pricing: PricingTable) -> tuple[int, float]:
    """Calls the budget guard sent to a cheaper model, and what that saved."""
    calls, saved = 0, 0.0
    for record in records:
        for decision in record.guard_decisions:
            change = decision.changes.get("model")
            if decision.guard != BUDGET_GUARD or change is None:
                continue
            calls += 1
            original = pricing.cost(str(change[0]), record.usage) if record.usage else None
            if original is not None and record.success and record.estimated_cost is not None:
                saved += original - record.estimated_cost
    return calls, saved


def _absorbed(records: Sequence[RequestRecord]) -> tuple[int, int]:
    """Calls that succeeded after a retry or on a fallback, and those on a fallback."""
    rescued = [
        r for r in records if r.success and not r.cached and (r.attempts > 1 or r.fallback_used)
    ]
    return len(rescued), sum(1 for r in rescued if r.fallback_used)


def summarise(
    *,
    duration: float,
    upstream: str,
    results: Sequence[CallResult],
    records: Sequence[RequestRecord],
    teams: int,
    faults: dict[str, int],
    breaker_changes: Sequence[str],
    breaker_opened: bool,
    alerts_fired: Sequence[str],
    alerts_resolved: Sequence[str],
    experiment: Decision | None,
    budget: BudgetOutcome | None,
    rag: tuple[int, int] = (0, 0),
    notes: Sequence[str] = (),
    pricing: PricingTable | None = None,
) -> TourSummary:
    """The summary of one tour (see the module docstring for how savings are priced)."""
    table = pricing or PricingTable.default()
    chats = [r for r in records if r.operation is Operation.CHAT]
    ok = [r for r in results if r.ok]
    routed = routing_savings(chats, table)
    downgraded, downgrade_saved = downgrade_savings(chats, table)
    absorbed, on_fallback = _absorbed(chats)
    cached = [r for r in chats if r.cached]
    return TourSummary(
        duration_s=duration,
        upstream=upstream,
        calls=len(results),
        calls_by_stream=dict(Counter(r.stream for r in results)),
        streamed_calls=sum(1 for r in results if r.streamed),
        users=len({r.user for r in results}),
        teams=teams,
        cost_usd=sum(r.estimated_cost or 0.0 for r in records),
        cache_hits=len(cached),
        cache_saved_usd=sum(r.saved_cost or 0.0 for r in cached),
        router_decisions=sum(1 for r in chats if TagKey.ROUTE.value in r.tags),
        routed_calls=sum(1 for r in chats if TagKey.ROUTED_FROM.value in r.tags),
        routing_saved_usd=routed.saving,
        downgraded_calls=downgraded,
        downgrade_saved_usd=downgrade_saved,
        latency_p50_s=quantile([r.latency_s for r in ok], 0.50),
        latency_p95_s=quantile([r.latency_s for r in ok], 0.95),
        ttft_p50_s=quantile([r.ttft_s for r in ok if r.ttft_s is not None], 0.50),
        faults_injected=dict(faults),
        faults_absorbed=absorbed,
        fallback_answers=on_fallback,
        user_errors=len(results) - len(ok),
        user_error_kinds=dict(Counter(r.error for r in results if r.error is not None)),
        breaker_changes=tuple(breaker_changes),
        breaker_opened=breaker_opened,
        experiment=experiment,
        budget=budget,
        alerts_fired=tuple(alerts_fired),
        alerts_resolved=tuple(alerts_resolved),
        rag_documents=rag[0],
        rag_chunks=rag[1],
        rag_answers=sum(1 for r in ok if r.stream == "rag"),
        notes=tuple(notes),
    )


# --- the table ---------------------------------------------------------------------------


def usd(amount: float) -> str:
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "n/a"


def summary_rows(summary: TourSummary) -> list[tuple[str, str]]:
    """(what, result) pairs, in the order the table shows them."""
    return [*_traffic_rows(summary), *_resilience_rows(summary), *_story_rows(summary)]


def _traffic_rows(s: TourSummary) -> list[tuple[str, str]]:
    streams = ", ".join(f"{name} {count}" for name, count in sorted(s.calls_by_stream.items()))
    saved = s.cache_saved_usd + s.routing_saved_usd + s.downgrade_saved_usd
    return [
        ("Upstream", s.upstream),
        (
            "Calls through the gateway",
            f"{s.calls} in {s.duration_s:.0f} s ({streams}); {s.streamed_calls} streamed; "
            f"{s.users} users in {s.teams} teams, each with a virtual key",
        ),
        ("Cost", f"{usd(s.cost_usd)} (saved {usd(saved)}: {_share(saved, s.cost_usd + saved)})"),
        (
            "Saved by the response cache",
            f"{usd(s.cache_saved_usd)}: {s.cache_hits} cache hits "
            f"({_share(s.cache_hits, s.calls)} of calls)",
        ),
        (
            "Saved by model selection",
            f"{usd(s.routing_saved_usd)}: router sent {s.routed_calls} of "
            f"{s.router_decisions} `auto` calls to the cheap model; "
            f"{usd(s.downgrade_saved_usd)}: budget downgraded {s.downgraded_calls} calls",
        ),
        (
            "Latency P50 / P95",
            f"{seconds(s.latency_p50_s)} / {seconds(s.latency_p95_s)} as users saw it; "
            f"time to first token P50 {seconds(s.ttft_p50_s)}",
        ),
    ]


def _resilience_rows(s: TourSummary) -> list[tuple[str, str]]:
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(s.faults_injected.items()))
    errors = ", ".join(f"{kind} x{count}" for kind, count in sorted(s.user_error_kinds.items()))
    return [
        ("Upstream faults injected", f"{s.faults_injected_total} ({faults or 'none'})"),
        (
            "Absorbed by the gateway",
            f"{s.faults_absorbed} calls answered after a retry or on a fallback "
            f"({s.fallback_answers} on a fallback)",
        ),
        ("Errors seen by users", f"{s.user_errors}" + (f" ({errors})" if errors else "")),
        ("Circuit breakers", "; ".join(s.breaker_changes) or "stayed closed"),
    ]


def _story_rows(s: TourSummary) -> list[tuple[str, str]]:
    rows = []
    if s.experiment is not None:
        e = s.experiment
        verdict = f"{e.winner} wins" if e.winner else "no winner yet"
        counts = ", ".join(f"{name} {n}" for name, n in sorted(e.results.items()))
        rows.append(("Prompt experiment", f"{verdict} ({e.status}; results {counts}). {e.reason}"))
    if s.budget is not None:
        b = s.budget
        alerts = ", ".join(f"{f:.0%}" for f in b.alerts) or "none"
        used = f"{usd(b.spent)} of {usd(b.limit)} ({b.used:.0%})"
        rows.append(
            (f"Budget {b.name}", f"{used}; alerts at {alerts}; {b.downgraded_calls} downgraded")
        )
    fired = f"fired {len(s.alerts_fired)} ({', '.join(s.alerts_fired) or '-'})"
    resolved = f"resolved {len(s.alerts_resolved)} ({', '.join(s.alerts_resolved) or '-'})"
    rows.append(("Alerts", f"{fired}; {resolved}"))
    if s.rag_documents:
        pages = f"{s.rag_documents} pages ({s.rag_chunks} chunks)"
        rows.append(("Answers from the docs", f"{s.rag_answers} answers from {pages}"))
    rows.extend(("Note", note) for note in s.notes)
    return rows


def summary_table(summary: TourSummary) -> Table:
    """The summary as a two-column Rich table."""
    table = Table(title="devora demo: what happened", show_lines=False, title_justify="left")
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("")
    for what, result in summary_rows(summary):
        table.add_row(what, result)
    return table


__all__ = ["BudgetOutcome", "TourSummary", "summarise", "summary_rows", "summary_table"]
