"""Monitoring: live latency, error, token and cost statistics, and an alert that fires.

`MLMonitor` counts the records of an `LLMService` from the bus they share, and calls made
elsewhere that you report by hand (`track_request`, the spec's Quick Start 3). A rule on
the error rate fires when more than 5% of the calls in the last 5 minutes failed; here
the fake answers one call with a 503.

Run: python examples/monitoring_quickstart.py
"""

import asyncio

from ai.core.records import RecordBus
from ai.errors import ProviderError
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer, Fault
from ml_ops import AlertRule, MLMonitor
from ml_ops.store import AlertRecord


def on_alert(alert: AlertRecord) -> None:
    print(f"ALERT {alert.status}: {alert.message}")


async def main() -> None:
    bus = RecordBus()
    rule = AlertRule("error-rate", "error_rate", ">", 0.05, "5m", min_samples=5)
    monitor = MLMonitor(rules=[rule], handlers=[on_alert])
    monitor.attach(bus)  # every record the service emits on `bus`
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
            max_retries=0,
        )
        async with LLMService(config, bus=bus) as llm:
            for n in range(8):
                question = [{"role": "user", "content": f"Give me tip number {n}."}]
                await llm.complete(question, user=f"user-{n % 3}")
            fake.faults.push(Fault.server_error(503))
            try:
                await llm.complete([{"role": "user", "content": "One more?"}], user="user-0")
            except ProviderError as error:
                print(f"one call failed: HTTP {error.status}")

    # The spec's Quick Start 3: a call made outside devora-ai, reported by hand.
    monitor.track_request(
        success=True, latency_ms=1500, cost=0.02, tokens=800, model="openai/gpt-4o-mini"
    )

    stats = monitor.get_real_time_stats()  # the "5m" window
    latency = stats["latency_ms"]
    print(f"requests: {stats['total_requests']}, success rate {stats['success_rate']:.0%}")
    print(f"latency P50 {latency['p50']:.1f} ms, P95 {latency['p95']:.1f} ms")
    print(f"errors: {stats['error_types']}, cost ${stats['total_cost']:.4f}")
    for model, group in stats["by_model"].items():
        print(f"  {model}: {group['total_requests']} requests, ${group['total_cost']:.6f}")
    await monitor.evaluate()  # rules are also judged as records arrive
    await monitor.flush()  # wait for the alert handlers
    print(f"alerts firing: {[alert.rule for alert in monitor.active_alerts()]}")
    await monitor.aclose()


if __name__ == "__main__":
    asyncio.run(main())
