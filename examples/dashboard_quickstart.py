"""The dashboard's views from Python: the spec's Quick Start 5 over live components.

A monitor, a cost tracker and an A/B tester read the record bus of one `LLMService`.
The tester's experiment is a guard this time: it sends half the users to gpt-4o-mini and
counts every call's result from the bus, with no `track_result`. `DashboardManager` then
gives the overview, the health check and the experiments panel as JSON-ready dicts (the
same the web dashboard serves, see examples/gateway_openai_sdk.py).

Run: python examples/dashboard_quickstart.py
"""

import asyncio

from ai.core.records import RecordBus
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer
from ml_ops import ABTester, Budget, CostTracker, DashboardManager, Experiment, MLMonitor, Variant


async def main() -> None:
    bus = RecordBus()
    monitor = MLMonitor()
    monitor.attach(bus)
    cost_tracker = CostTracker()
    cost_tracker.attach(bus)
    cost_tracker.add_budget(Budget(name="daily_limit", limit=10.0, period="daily", scope="global"))
    ab_tester = ABTester("memory:")
    ab_tester.attach(bus)  # results straight from the records of the calls
    ab_tester.create_experiment(
        Experiment(
            name="cheaper-model",
            variants=[Variant("current", model="gpt-4o"), Variant("mini", model="gpt-4o-mini")],
        )
    )
    ab_tester.start_experiment("cheaper-model")

    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o",
            base_url=fake.openai_base_url,
        )
        async with LLMService(config, guards=[ab_tester.guard()], bus=bus) as llm:
            for n in range(12):
                question = [{"role": "user", "content": f"Explain feature {n} in one line."}]
                await llm.complete(question, user=f"user-{n % 6}")

    dashboard = DashboardManager(monitor=monitor, cost_tracker=cost_tracker, ab_tester=ab_tester)
    overview = dashboard.get_overview()
    print(f"Total requests: {overview['overview']['total_requests']}")
    print(f"Total cost: ${overview['overview']['total_cost']:.4f}")
    print(f"Top models by cost: {[row['name'] for row in overview['top']['models']]}")
    health = dashboard.get_health_check()
    print(f"System health: {health['overall_status']}")
    for name, component in health["components"].items():
        print(f"  {name}: {component['status']} ({component['reason']})")
    for view in dashboard.get_experiments()["experiments"]:
        units = {variant["name"]: variant["units"] for variant in view["variants"]}
        print(f"experiment {view['name']}: {view['status']}, results per variant {units}")
    await monitor.aclose()
    await cost_tracker.aclose()
    await ab_tester.aclose()


if __name__ == "__main__":
    asyncio.run(main())
