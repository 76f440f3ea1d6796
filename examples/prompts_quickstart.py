"""Prompt templates, offline: built-ins, your own versions, labels, A/B, cost, and a call.

Run: python examples/prompts_quickstart.py
Uses a throwaway directory store and the loopback fake provider; no key needed.
"""

import asyncio
import tempfile

from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.prompts import PromptTemplate, TemplateManager, WeightedSplit
from ai.testing import FakeProviderServer

RELEASE_NOTES = {
    "name": "release_notes",
    "category": "documentation",
    "description": "Release notes from a list of changes.",
    "tags": ["release", "changelog"],
    "variables": {
        "changes": {"type": "list", "description": "One line per change."},
        "audience": {"default": "developers", "choices": ["developers", "customers"]},
    },
    "messages": [
        {"role": "system", "content": "You write short, accurate release notes."},
        {"role": "user", "content": "Write release notes for {audience}:\n{changes}"},
    ],
    "model_hints": {"model": "gpt-4o-mini", "temperature": 0.3, "max_tokens": 400},
    "experiment": "release-notes-tone",
}


async def main() -> None:
    split = WeightedSplit({"release-notes-tone": {"production": 1, "staging": 1}})
    with tempfile.TemporaryDirectory() as folder:
        async with TemplateManager(folder, experiments=split) as prompts:
            # 1. The built-in library.
            reviews = await prompts.list_templates(category="code_review")
            print("built-in code review templates:", [t.name for t in reviews])

            # 2. Your own template: version 1 goes to production, version 2 to staging.
            await prompts.save(PromptTemplate.from_dict(RELEASE_NOTES), note="first draft")
            friendlier = {**RELEASE_NOTES, "messages": [
                {"role": "system", "content": "You write warm, accurate release notes."},
                RELEASE_NOTES["messages"][1],
            ]}  # fmt: skip
            v2 = await prompts.save(
                PromptTemplate.from_dict(friendlier), note="warmer tone", labels=["staging"]
            )
            print("labels:", await prompts.labels("release_notes"), "latest:", v2.version)
            diff = await prompts.diff("release_notes", 1, 2)
            print("changed between v1 and v2:", diff.changed_fields)

            # 3. Render: the experiment picks production or staging per user, sticky.
            changes = ["Faster search", "Fixed login on Safari"]
            for user in ("ana", "dia", "ana"):
                rendered = await prompts.render("release_notes", changes=changes, subject=user)
                print(f"{user} gets version {rendered.version} ({rendered.variant})")
            print("exposures per (variant, version):", split.counts("release-notes-tone"))

            # 4. What it will cost before sending, then send it with its tags.
            estimate = rendered.estimate()
            print(f"estimate: {estimate.input_tokens} tokens in, up to ${estimate.total_cost:.6f}")
            async with FakeProviderServer(api_key="sk-fake-key-123456") as fake:
                config = LLMConfig(
                    provider=LLMProvider.OPENAI,
                    api_key="sk-fake-key-123456",
                    model="gpt-4o-mini",
                    base_url=fake.openai_base_url,
                )
                async with LLMService(config) as llm:
                    text, stats = await llm.complete(
                        rendered.as_messages(),
                        **rendered.model_hints.as_kwargs(),
                        tags=rendered.call_tags(),
                    )
            print(f"answer: {text[:60]}... tokens in: {stats.input_tokens}")

            # 5. Roll back: production moves, nothing is deleted.
            await prompts.rollback("release_notes", 1)
            print("production is version", (await prompts.get("release_notes")).version)


if __name__ == "__main__":
    asyncio.run(main())
