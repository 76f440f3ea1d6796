"""Cost tracking: budgets that alert, downgrade or refuse calls, and the spend report.

The spec's Quick Start 3 `CostTracker`, enforcing its budgets as a guard on `LLMService`.
Alice's budget downgrades her gpt-4o calls to gpt-4o-mini once half of it is spent; Bob's
refuses a call, before any request, when its worst-case cost no longer fits. The tracker
also reads the service's record bus, so the report counts the refused call too.

Run: python examples/costs_budget.py
"""

import asyncio

from ai.core.records import RecordBus
from ai.errors import BudgetExceededError
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer
from ml_ops import Budget, CostTracker


async def main() -> None:
    bus = RecordBus()
    cost_tracker = CostTracker()
    cost_tracker.attach(bus)
    cost_tracker.add_budget(Budget(name="daily_limit", limit=10.0, period="daily", scope="global"))
    cost_tracker.add_budget(
        Budget(
            name="alice",
            limit=0.002,
            period="daily",
            scope="user",
            scope_value="alice",
            action="downgrade",  # to the next cheaper model of the family: gpt-4o-mini
            downgrade_from=0.5,
        )
    )
    cost_tracker.add_budget(
        Budget(
            name="bob",
            limit=0.001,
            period="daily",
            scope="user",
            scope_value="bob",
            action="refuse",
        )
    )
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o",
            base_url=fake.openai_base_url,
        )
        async with LLMService(config, guards=[cost_tracker.guard()], bus=bus) as llm:
            for user in ("alice", "bob"):
                for n in range(1, 6):
                    question = [{"role": "user", "content": f"Summarise release 1.{n}."}]
                    try:
                        _, stats = await llm.complete(question, user=user, max_tokens=60)
                    except BudgetExceededError as error:
                        print(f"{user} call {n}: refused: {type(error).__name__}")
                        break
                    used = cost_tracker.get_budget_status(user).fraction_used
                    cost = stats.estimated_cost
                    print(f"{user} call {n}: {stats.model}, ${cost:.6f}, {used:.0%} of the budget")

    report = cost_tracker.get_report()
    totals = report["totals"]
    print(
        f"report: {totals['requests']} requests, ${totals['cost']:.6f}, {totals['refused']} refused"
    )
    for row in report["by_model"]:
        print(f"  {row['name']}: {row['requests']} requests, ${row['cost']:.6f}")
    for status in report["budgets"]:
        used, in_effect = status["fraction_used"], status["in_effect"]
        print(f"  budget {status['name']}: {used:.1%} used, in effect: {in_effect}")
    await cost_tracker.aclose()


if __name__ == "__main__":
    asyncio.run(main())
