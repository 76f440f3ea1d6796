"""A/B testing: the spec's Quick Start 4, with real calls behind the results.

Each user is assigned a variant of `prompt_test` (sticky: the same user always gets the
same one), the variant's prompt is sent, and the result is tracked with the call's
latency and cost. The summary gives each variant's numbers and the decision, with its
reason; a winner needs `minimum_sample_size` results per variant and a significant lift.

Run: python examples/ab_testing_quickstart.py
"""

import asyncio

from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer
from ml_ops import ABTester, Experiment, Variant


async def main() -> None:
    ab_tester = ABTester("memory:")  # without a store: .devora/experiments.db
    experiment = Experiment(
        name="prompt_test",
        description="Compare concise vs detailed prompts",
        variants=[
            Variant(name="concise", prompt_template="Generate {task}"),
            Variant(name="detailed", prompt_template="Create a detailed {task} with examples"),
        ],
        primary_metric="success_rate",
        minimum_sample_size=200,
    )
    ab_tester.create_experiment(experiment)
    ab_tester.start_experiment("prompt_test")

    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
        )
        assigned: dict[str, str] = {}
        async with LLMService(config) as llm:
            for n in range(40):
                user = f"user-{n}"
                variant = ab_tester.get_variant("prompt_test", unit_id=user)
                assigned[user] = variant.name
                arguments = variant.call_arguments(task="a CSV parser")  # messages and tags
                text, stats = await llm.complete(**arguments, user=user)
                ab_tester.track_result(
                    experiment_name="prompt_test",
                    variant_name=variant.name,
                    success="CSV" in text,  # your own judgement of the answer
                    latency_ms=stats.latency_ms,
                    cost=stats.estimated_cost,
                )

    again = ab_tester.get_variant("prompt_test", unit_id="user-7").name
    print(f"user-7 got {assigned['user-7']}, and asking again: {again}")
    summary = ab_tester.get_experiment_summary("prompt_test")  # a JSON-ready dict
    print(f"{summary['name']}: {summary['status']}, {summary['results']} results")
    for name, variant_summary in summary["variants"].items():
        print(
            f"  {name}: {variant_summary['results']} results, "
            f"success {variant_summary['success_rate']:.0%}, "
            f"cost ${variant_summary['cost']['mean']:.6f} per call"
        )
    print(f"decision: {summary['decision']['status']}: {summary['decision']['reason']}")
    ab_tester.close()


if __name__ == "__main__":
    asyncio.run(main())
