"""`devora demo`: the spec's Quick Start 1 end to end, on a real provider or the loopback fake.

A real provider is used when its API key is in the environment (OpenRouter, then OpenAI,
then Anthropic); otherwise the built-in fake of OpenRouter serves the call, so the demo
runs offline with no key. The demo always says which one it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from ai.calls.config import LLMConfig, LLMProvider
from ai.calls.stats import CompletionStats
from ai.llm_service import LLMService


@dataclass(frozen=True)
class DemoTarget:
    """Which provider and model the demo talks to, and whether it is the fake."""

    provider: LLMProvider
    model: str
    api_key: str | None
    base_url: str | None
    is_fake: bool


_REAL_TARGETS = (
    (LLMProvider.OPENROUTER, "OPENROUTER_API_KEY", "openai/gpt-4o-mini"),
    (LLMProvider.OPENAI, "OPENAI_API_KEY", "gpt-4o-mini"),
    (LLMProvider.ANTHROPIC, "ANTHROPIC_API_KEY", "claude-3-5-haiku-20241022"),
)


def real_target(environ: Mapping[str, str]) -> DemoTarget | None:
    """The first provider whose key is set, or None to use the fake."""
    for provider, variable, model in _REAL_TARGETS:
        if environ.get(variable):
            return DemoTarget(provider, model, None, None, is_fake=False)
    return None


async def open_target(
    stack: AsyncExitStack, console: Console, environ: Mapping[str, str]
) -> DemoTarget:
    """The real provider whose key is set, else a loopback fake started on `stack`."""
    target = real_target(environ)
    if target is not None:
        console.print(f"[green]Using the real {target.provider.value} API.[/green]")
        return target
    from ai.testing import FakeProviderServer

    fake = await stack.enter_async_context(FakeProviderServer())
    console.print(
        "[yellow]No provider API key set (OPENROUTER_API_KEY, OPENAI_API_KEY, "
        f"ANTHROPIC_API_KEY): using devora's loopback fake of OpenRouter at "
        f"{fake.openrouter_base_url}.[/yellow]"
    )
    return DemoTarget(
        LLMProvider.OPENROUTER,
        "openai/gpt-4o-mini",
        fake.api_key,
        fake.openrouter_base_url,
        is_fake=True,
    )


def target_config(target: DemoTarget) -> LLMConfig:
    """An `LLMConfig` for `target` (the key comes from the environment for real ones)."""
    return LLMConfig(
        provider=target.provider,
        api_key=target.api_key,
        model=target.model,
        base_url=target.base_url,
        max_retries=3,
    )


async def run_demo(
    console: Console, environ: Mapping[str, str], prompt: str, *, stream: bool
) -> CompletionStats:
    """Run one completion (and optionally a streamed one) and print what it cost."""
    async with AsyncExitStack() as stack:
        target = await open_target(stack, console, environ)
        async with LLMService(target_config(target), environ=environ) as llm:
            messages = [{"role": "user", "content": prompt}]
            response, stats = await llm.complete(messages=messages)
            console.print(f"\n[bold]Response:[/bold] {response}")
            console.print(stats_table("LLMService.complete", stats))
            if stream:
                console.print("\n[bold]Streaming:[/bold] ", end="")
                streamed = llm.stream(messages=messages)
                async for delta in streamed:
                    console.print(delta, end="", markup=False, highlight=False)
                console.print()
                if streamed.stats is not None:
                    console.print(stats_table("LLMService.stream", streamed.stats))
        return stats


def stats_table(title: str, stats: CompletionStats) -> Table:
    """The figures a user asks for after a call: who answered, tokens, cost, timings."""
    table = Table(title=title, show_header=False)
    cost = "unknown (no price for this model)"
    if stats.estimated_cost is not None:
        cost = f"${stats.estimated_cost:.6f} ({stats.cost_source})"
    ttft = stats.time_to_first_token_ms
    rows = [
        ("provider / model", f"{stats.provider} / {stats.model}"),
        ("input tokens", f"{stats.input_tokens} ({stats.cached_input_tokens} cached)"),
        ("output tokens", str(stats.output_tokens)),
        (
            "total tokens",
            str(stats.total_tokens) + (" (estimated)" if stats.tokens_estimated else ""),
        ),
        ("cost", cost),
        ("latency", f"{stats.latency_ms:.1f} ms"),
        ("time to first token", f"{ttft:.1f} ms" if ttft is not None else "n/a (not streamed)"),
        ("attempts", str(stats.attempts)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
