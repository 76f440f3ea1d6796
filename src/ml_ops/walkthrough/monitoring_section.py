"""Section 7, monitoring: `ml_ops.MLMonitor` fed two ways, read as live statistics
(latency percentiles, errors, tokens and cost per model, agent and user), and an alert
rule that fires.

The monitor is attached to the bus every section's service emits on, so it has counted
each call of this process as it ended (the router's two included). Calls made outside
devora-ai (here: a nightly batch job on gpt-4o, two of whose calls were rate limited) are
added by hand with `track_request`, the spec's Quick Start 3.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from ml_ops.walkthrough.observers import ERROR_RATE_RULE, Observers

QUESTIONS = (
    ("ana", "How do I rotate an API key?"),
    ("ana", "Which regions do you serve?"),
    ("ben", "Can I export my invoices as CSV?"),
    ("ben", "What does error E1042 mean?"),
    ("ana", "Is there a rate limit per key?"),
)
# (success, latency ms, cost USD, tokens, error type) of the batch job's calls.
BATCH_JOB = (
    (True, 1480.0, 0.0085, 2300, None),
    (True, 2350.0, 0.0120, 3100, None),
    (False, 310.0, 0.0, 0, "rate_limit"),
    (False, 290.0, 0.0, 0, "rate_limit"),
)


async def monitoring(console: Console, observers: Observers) -> None:
    """Calls on the bus and by hand, then the 5-minute statistics and the alert."""
    monitor = observers.monitor
    async with observers.service("gpt-4o-mini") as llm:
        for user, question in QUESTIONS:
            messages = [{"role": "user", "content": question}]
            await llm.complete(messages, user=user, agent="support-bot", max_tokens=60)
        stream = llm.stream([{"role": "user", "content": "Tell me a short story."}], user="ben")
        async for _ in stream:
            pass
    console.print(f"from the bus: {len(QUESTIONS) + 1} support-bot calls (one streamed)")
    for success, latency_ms, cost, tokens, error_type in BATCH_JOB:
        monitor.track_request(
            success=success,
            latency_ms=latency_ms,
            cost=cost,
            tokens=tokens,
            model="gpt-4o",
            provider="openai",
            agent="nightly-batch",
            error_type=error_type,
        )
    console.print(f"by hand (track_request): {len(BATCH_JOB)} calls of a nightly batch job")
    stats = monitor.get_real_time_stats("5m")
    console.print(
        f"get_real_time_stats('5m'): {stats['total_requests']} requests, success rate "
        f"{stats['success_rate']:.1%}, errors {stats['error_types']}, ${stats['total_cost']:.4f}"
    )
    ttft = stats["time_to_first_token_ms"]["p50"]
    console.print(f"  all models: {_latency(stats)}, time to first token P50 {ttft:.1f} ms")
    for model, group in stats["by_model"].items():
        console.print(
            f"  {model}: {group['total_requests']} requests, {_latency(group)}, "
            f"${group['total_cost']:.6f}, {group['tokens']['total']} tokens"
        )
    console.print(
        f"  tokens by agent {_tokens(stats['by_agent'])}, by user {_tokens(stats['by_user'])}, "
        f"cost per request ${stats['cost_per_request']:.6f}"
    )
    await monitor.evaluate()
    rule = ERROR_RATE_RULE
    console.print(f"alert rule {rule.name!r}: {rule.metric} {rule.op} {rule.threshold} over 5m")
    for alert in monitor.active_alerts():
        console.print(f"alert {alert.status}: {alert.message}", markup=False)


def _tokens(groups: dict[str, Any]) -> dict[str, int]:
    return {str(name): group["tokens"]["total"] for name, group in groups.items()}


def _latency(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    return f"latency P50 {latency['p50']:.1f} ms, P95 {latency['p95']:.1f} ms"


__all__ = ["monitoring"]
