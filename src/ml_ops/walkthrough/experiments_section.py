"""Section 9, A/B testing: the spec's Quick Start 4 with real calls behind it.

Twenty users, each sticky to a variant of `prompt_test`; each variant's prompt is sent
through the service and its result tracked by hand (`track_result`) with the call's
latency and cost. Success is a plain check of the answer, standing in for whatever judges
answers in an application (a test suite, a user's thumbs-up). The summary then gives each
variant's numbers and the statistics engine's decision, with its reason.

Then the lifecycle, each step shown by what one user is served: paused, a user of the
detailed variant gets the control (concise); resumed, the detailed variant again (the
assignment is sticky); completed by hand with `WINNER`, a user of the concise variant gets
the winner.
"""

from __future__ import annotations

from rich.console import Console

from ml_ops.ab_testing import ABTester, Experiment, Variant
from ml_ops.walkthrough.observers import Observers

USERS = tuple(f"user-{n}" for n in range(20))
TASK = "a CSV parser"
EXPERIMENT = Experiment(
    name="prompt_test",
    description="Compare concise vs detailed prompts",
    variants=[
        Variant(name="concise", prompt_template="Generate {task}"),
        Variant(name="detailed", prompt_template="Create a detailed {task} with examples"),
    ],
    primary_metric="success_rate",
    minimum_sample_size=100,  # per variant before any winner; the default plans it
)
WINNER = "detailed"  # chosen by hand: both variants succeed, the sample is far too small


async def ab_testing(console: Console, observers: Observers) -> None:
    """Run the experiment over `USERS`, then print its summary."""
    ab_tester = observers.ab_tester
    ab_tester.create_experiment(EXPERIMENT)
    ab_tester.start_experiment(EXPERIMENT.name)
    assigned: dict[str, str] = {}
    async with observers.service("gpt-4o-mini") as llm:
        for user in USERS:
            variant = ab_tester.get_variant(EXPERIMENT.name, unit_id=user)
            assigned[user] = variant.name
            arguments = variant.call_arguments(task=TASK)
            text, stats = await llm.complete(**arguments, user=user, max_tokens=80)
            ab_tester.track_result(
                experiment_name=EXPERIMENT.name,
                variant_name=variant.name,
                success="csv" in text.lower(),
                latency_ms=stats.latency_ms,
                cost=stats.estimated_cost,
            )
    summary = ab_tester.get_experiment_summary(EXPERIMENT.name)
    console.print(
        f"experiment {summary['name']} ({summary['status']}): {summary['exposures']} exposures, "
        f"{summary['results']} results tracked"
    )
    for name, numbers in summary["variants"].items():
        interval = numbers["success_rate_ci"]
        console.print(
            f"  {name}: {numbers['results']} results, success {numbers['success_rate']:.0%} "
            f"(CI {interval['lower']:.0%}-{interval['upper']:.0%}), latency P50 "
            f"{numbers['latency_ms']['p50']:.1f} ms, cost ${numbers['cost']['mean']:.6f}/call",
            markup=False,
        )
    decision = summary["decision"]
    console.print(f"decision ({decision['status']}): {decision['reason']}", markup=False)
    _lifecycle(console, ab_tester, assigned)


def _lifecycle(console: Console, ab_tester: ABTester, assigned: dict[str, str]) -> None:
    """Pause, resume, complete; after each, the variant `get_variant` serves a user."""
    name, control = EXPERIMENT.name, EXPERIMENT.control_name
    user = next(unit for unit, variant in assigned.items() if variant != control)
    ab_tester.pause_experiment(name, reason="the walk-through pauses it")
    paused = ab_tester.get_variant(name, unit_id=user).name
    ab_tester.resume_experiment(name, reason="the walk-through resumes it")
    resumed = ab_tester.get_variant(name, unit_id=user).name
    console.print(
        f"pause_experiment: {user} ({assigned[user]}) is served {paused} (the control); "
        f"resume_experiment: {resumed} again"
    )
    other = next(unit for unit, variant in assigned.items() if variant == control)
    state = ab_tester.complete_experiment(name, winner=WINNER, reason="chosen by hand")
    served = ab_tester.get_variant(name, unit_id=other).name
    console.print(
        f"complete_experiment(winner={WINNER!r}): {state.status.value}, "
        f"{other} ({assigned[other]}) is served {served}"
    )


__all__ = ["ab_testing"]
