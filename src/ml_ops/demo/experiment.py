"""The prompt experiment: two versions of the support team's reply template, A/B tested
on cost until the tester decides.

Version 1 (label `production`) asks for a thorough reply, version 2 (label `staging`)
for three short sentences. The template names the experiment, so `TemplateManager`
asks the runtime's `ABTester` which version each customer gets (sticky per customer) and
counts the render as an exposure; the call goes through the gateway with the render's
call tags in OpenAI's `metadata` (`prompt_tags.PromptTagsFromMetadata` puts them on the
record), and the tester, attached to the runtime's record bus, counts its cost. The tour
asks for a decision every few results; the experiment completes itself (`auto_complete`)
once the sequential test finds a winner.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ai.prompts import PromptTemplate, RenderedPrompt, TemplateManager
from ml_ops.ab_testing import ABTester, AnalysisMode, Experiment, Variant

EXPERIMENT = "support-reply-tone"
TEMPLATE = "support_reply"
MINIMUM_SAMPLE = 12
DETAILED_MARK = "Write a thorough reply"
CONCISE_MARK = "Reply in at most three short sentences"

_USER_MESSAGE = "Ticket {ticket}: customer {customer} writes that they {issue}."
_DETAILED = {
    "name": TEMPLATE,
    "category": "support",
    "description": "A reply to a customer's support ticket.",
    "experiment": EXPERIMENT,
    "messages": [
        {
            "role": "system",
            "content": f"You are a support agent for Devora Cloud. {DETAILED_MARK}: restate "
            "the problem, explain the likely cause, give step-by-step instructions and "
            "close politely.",
        },
        {"role": "user", "content": _USER_MESSAGE},
    ],
}
_CONCISE = {
    **_DETAILED,
    "messages": [
        {
            "role": "system",
            "content": f"You are a support agent for Devora Cloud. {CONCISE_MARK}, ending "
            "with the one next step the customer should take.",
        },
        {"role": "user", "content": _USER_MESSAGE},
    ],
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Where the experiment stands: its status, the winner (if any) and why."""

    status: str
    winner: str | None
    reason: str
    results: dict[str, int]


class SupportExperiment:
    """The template's two versions, the experiment over them, and rendering a ticket."""

    def __init__(self, tester: ABTester, prompts: TemplateManager) -> None:
        self.tester = tester
        self.prompts = prompts

    @classmethod
    async def create(cls, tester: ABTester) -> SupportExperiment:
        """Save both versions (in memory), define the experiment and start it."""
        prompts = TemplateManager("memory:", experiments=tester, author="devora demo")
        await prompts.save(PromptTemplate.from_dict(_DETAILED), note="thorough replies")
        await prompts.save(
            PromptTemplate.from_dict(_CONCISE), note="three sentences", labels=["staging"]
        )
        experiment = Experiment(
            name=EXPERIMENT,
            description="Thorough (v1) or three-sentence (v2) support replies: which costs less?",
            variants=[Variant("detailed", label="production"), Variant("concise", label="staging")],
            primary_metric="cost",
            mode=AnalysisMode.SEQUENTIAL,
            minimum_sample_size=MINIMUM_SAMPLE,
            auto_complete=True,
            template=TEMPLATE,
        )
        await asyncio.to_thread(tester.create_experiment, experiment)
        await asyncio.to_thread(tester.start_experiment, EXPERIMENT, reason="devora demo")
        return cls(tester, prompts)

    async def render(self, customer: str, ticket: int, issue: str) -> RenderedPrompt:
        """The reply prompt for one ticket, in the version the customer is assigned."""
        return await self.prompts.render(
            TEMPLATE, subject=customer, customer=customer, ticket=f"#{ticket}", issue=issue
        )

    async def decide(self) -> Decision:
        """Ask the tester for a decision now (it completes the experiment on a winner)."""
        decision: dict[str, Any] = await self.tester.aevaluate(EXPERIMENT) or {}
        state = await asyncio.to_thread(self.tester.get_experiment, EXPERIMENT)
        summary = await asyncio.to_thread(self.tester.get_experiment_summary, EXPERIMENT)
        results = {
            name: int(variant.get("results", 0))
            for name, variant in summary.get("variants", {}).items()
        }
        winner = state.winner or decision.get("winner")
        return Decision(str(state.status), winner, str(decision.get("reason", "")), results)

    async def aclose(self) -> None:
        await self.prompts.aclose()


__all__ = [
    "CONCISE_MARK",
    "DETAILED_MARK",
    "EXPERIMENT",
    "TEMPLATE",
    "Decision",
    "SupportExperiment",
]
