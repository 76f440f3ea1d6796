"""`devora demo --quick`: the spec's Quick Start 1 end to end, on a real provider or the
loopback fake. (Plain `devora demo` is the tour of `ml_ops.demo`; with a provider key set,
it first makes this call to check the key.)

A real provider is used when its API key is in the environment (OpenRouter, then OpenAI,
then Anthropic); otherwise the built-in fake of OpenRouter serves the call, so the demo
runs offline with no key. The demo always says which one it used, and at which base URL.

From the shell (`run_demo_command`), a failure is one line on stderr (the error, what to
do) and exit status 1; retry notices appear as dim lines in the demo's own output.
`--debug` leaves them on stderr and adds the traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai.calls.config import LLMConfig, LLMProvider, resolve_routes
from ai.calls.stats import CompletionStats
from ai.errors import DevoraError, mask_url, redact
from ai.llm_service import LLMService
from ai.providers.registry import default_registry


@dataclass(frozen=True)
class DemoTarget:
    """Which provider and model the demo talks to, and whether it is the fake."""

    provider: LLMProvider
    model: str
    api_key: str | None
    base_url: str | None
    is_fake: bool
    key_variable: str | None = None


_REAL_TARGETS = (
    (LLMProvider.OPENROUTER, "OPENROUTER_API_KEY", "openai/gpt-4o-mini"),
    (LLMProvider.OPENAI, "OPENAI_API_KEY", "gpt-4o-mini"),
    (LLMProvider.ANTHROPIC, "ANTHROPIC_API_KEY", "claude-3-5-haiku-20241022"),
)


def real_target(environ: Mapping[str, str]) -> DemoTarget | None:
    """The first provider whose key is set, or None to use the fake."""
    for provider, variable, model in _REAL_TARGETS:
        if environ.get(variable):
            return DemoTarget(provider, model, None, None, is_fake=False, key_variable=variable)
    return None


async def open_target(
    stack: AsyncExitStack, console: Console, environ: Mapping[str, str]
) -> DemoTarget:
    """The real provider whose key is set, else a loopback fake started on `stack`."""
    target = real_target(environ)
    if target is not None:
        announce_real(console, target, environ)
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


def announce_real(console: Console, target: DemoTarget, environ: Mapping[str, str]) -> None:
    """Say which real API the demo calls: the base URL, settled as `LLMService` settles it,
    and whether it is the provider's own or one set in the environment (OPENAI_BASE_URL)."""
    config = target_config(target)
    route = resolve_routes(config, registry=default_registry(), environ=environ)[0]
    where = escape(mask_url(route.base_url))
    key = f"key from {target.key_variable}" if target.key_variable else "key from settings"
    if route.base_url == route.spec.default_base_url.rstrip("/"):
        line = f"Using the real {route.provider} API at {where} ({key})."
    else:
        line = (
            f"Using the {route.provider} API format at {where} (set by "
            f"{route.spec.base_url_env}, not {route.provider}'s own URL; {key})."
        )
    console.print(f"[green]{line}[/green]")


async def run_demo(
    console: Console, environ: Mapping[str, str], prompt: str, *, stream: bool
) -> CompletionStats:
    """Run one completion (and optionally a streamed one) and print what it cost."""
    async with AsyncExitStack() as stack:
        target = await open_target(stack, console, environ)
        async with LLMService(target_config(target), environ=environ) as llm:
            messages = [{"role": "user", "content": prompt}]
            response, stats = await llm.complete(messages=messages)
            console.print("\n[bold]Response:[/bold] " + escape(response))
            print_stats(console, "LLMService.complete", stats)
            if stream:
                console.print("\n[bold]Streaming:[/bold] ", end="")
                streamed = llm.stream(messages=messages)
                async for delta in streamed:
                    console.print(delta, end="", markup=False, highlight=False)
                console.print()
                if streamed.stats is not None:
                    print_stats(console, "LLMService.stream", streamed.stats)
        return stats


def run_demo_command(
    prompt: str, *, stream: bool, debug: bool, environ: Mapping[str, str] | None = None
) -> int:
    """`devora demo`: run the demo, and turn a failure into one line on stderr.

    Returns the exit status: 0, 1 on a failure, 130 on Ctrl-C. With `debug` the
    traceback is printed before that line.
    """
    environ = os.environ if environ is None else environ
    console = Console(soft_wrap=True)  # long lines are the terminal's to wrap, or nobody's
    try:
        if debug:
            asyncio.run(run_demo(console, environ, prompt, stream=stream))
        else:
            with notices_to(console):
                asyncio.run(run_demo(console, environ, prompt, stream=stream))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if debug:
            traceback.print_exception(error, file=sys.stderr)
        sys.stderr.write(failure_line(error, real_target(environ), debug=debug) + "\n")
        return 1
    return 0


class _ConsoleNotices(logging.Handler):
    """Writes log records (the service's retry and fallback notices) to a console, dim."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        self._console.print(f"[dim]{escape(record.getMessage())}[/dim]")


@contextmanager
def notices_to(console: Console) -> Iterator[None]:
    """While the block runs, devora's warnings go to `console` instead of stderr."""
    logger = logging.getLogger("ai")
    handler = _ConsoleNotices(console)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def failure_line(error: BaseException, target: DemoTarget | None, *, debug: bool) -> str:
    """One line: what failed, what to do, and where the traceback is."""
    # not one of ours: name the type, since the message alone may be cryptic
    said = str(error) if isinstance(error, DevoraError) else f"{type(error).__name__}: {error}"
    advice = []
    if target is not None and target.key_variable:
        advice.append(
            f"the demo used {target.key_variable}; unset it to run offline on the loopback fake"
        )
    if not debug:
        advice.append("--debug shows the traceback")
    line = " ".join(redact(said).split()).rstrip(".")
    return f"devora demo: error: {line}." + (f" ({'; '.join(advice)})" if advice else "")


def print_stats(console: Console, title: str, stats: CompletionStats) -> None:
    """A table on a terminal; elsewhere (a pipe, a file) `name: value` lines, unwrapped."""
    if console.is_terminal:
        console.print(stats_table(title, stats))
        return
    console.print(title, markup=False, highlight=False, soft_wrap=True)
    for name, value in stats_rows(stats):
        console.print(f"  {name}: {value}", markup=False, highlight=False, soft_wrap=True)


def stats_table(title: str, stats: CompletionStats) -> Table:
    """The figures a user asks for after a call: who answered, tokens, cost, timings."""
    table = Table(title=title, show_header=False)
    for name, value in stats_rows(stats):
        table.add_row(name, value)
    return table


def stats_rows(stats: CompletionStats) -> list[tuple[str, str]]:
    """(name, value) pairs of `stats` as shown to a person."""
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
    return rows
