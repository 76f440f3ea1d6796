"""The `devora` command: demo, loopback fakes, and the RAG, prompt, monitoring and cost tools.

`devora --help` must stay fast, so this module imports nothing but typer: the command
groups are named here with their one-line help and imported only when one of them is
run (see `LazyGroup`); every command imports its own machinery in its body.
"""

from __future__ import annotations

import typer

from ai.cli.lazy import LazyGroup, LazyLoadingGroup


class DevoraGroup(LazyLoadingGroup):
    """The top-level group: the lazy groups load when used (help must match theirs). The
    `ml_ops` groups are named here by string only: `ai` never imports `ml_ops`."""

    lazy_groups = (
        LazyGroup(
            "rag",
            "ai.rag.cli:rag_app",
            "Ingest files and query them (local embeddings, no key needed).",
        ),
        LazyGroup(
            "prompts",
            "ai.prompts.cli:prompts_app",
            "Prompt templates: list, show, render, version and label them.",
        ),
        LazyGroup(
            "monitor",
            "ml_ops.monitoring.cli:monitor_app",
            "Latency, errors, tokens and cost of recorded calls; alerts.",
        ),
        LazyGroup(
            "costs",
            "ml_ops.cost_tracker.cli:costs_app",
            "Spend reports, budgets and exports from the event store.",
        ),
        LazyGroup(
            "experiments",
            "ml_ops.ab_testing.cli:experiments_app",
            "A/B experiments: create, start, pause, complete them and read their results.",
        ),
        LazyGroup(
            "keys",
            "ml_ops.gateway.cli:keys_app",
            "Virtual keys of the OpenAI-compatible gateway: create, list, revoke.",
        ),
    )


app = typer.Typer(
    name="devora",
    help="devora-ai: LLM infrastructure (multi-provider client, caching, RAG, ML ops).",
    cls=DevoraGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def demo(
    duration: float = typer.Option(
        60.0, min=3.0, help="Seconds of traffic in the tour (a shorter tour runs faster)."
    ),
    exit_after: bool = typer.Option(
        False, "--exit", help="Stop after the summary instead of serving until Ctrl-C."
    ),
    port: int = typer.Option(8765, help="Port for the dashboard (/) and the API (/v1); busy: any."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback unless proxied."),
    docs: str = typer.Option(None, help="Markdown folder the RAG questions use; default docs/."),
    quick: bool = typer.Option(
        False, "--quick", help="Only the Quick Start: one call with tokens, cost and latency."
    ),
    prompt: str = typer.Option("Hello!", help="What the Quick Start call asks."),
    stream: bool = typer.Option(True, help="Quick Start: also stream the answer."),
    debug: bool = typer.Option(False, "--debug", help="On failure, print the full traceback."),
) -> None:
    """Tour devora-ai: a minute of traffic through the gateway, a summary, the dashboard.

    Starts `devora serve` on embedded defaults (SQLite in a temporary folder, cache in
    memory, local embeddings) in front of the loopback fakes of OpenAI, Anthropic and
    OpenRouter, and drives users, teams and virtual keys through it with the openai SDK:
    chat and streams, cache hits, model routing, questions over docs/, a prompt A/B
    experiment, a budget that alerts and downgrades, injected 429s, 5xx and an outage.
    Then it prints a summary and serves the dashboard until Ctrl-C (--exit: it stops).

    With OPENROUTER_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY set, the Quick Start call
    first checks the key on that provider, then the tour runs on the real providers (no
    faults injected). --quick runs only the Quick Start: one call, on the fake without a
    key. A failure prints one line and exits with status 1; --debug adds the traceback.
    """
    import importlib
    import os

    from ai.cli.demo import real_target, run_demo_command

    if quick or real_target(os.environ) is not None:
        status = run_demo_command(prompt, stream=stream, debug=debug)
        if quick or status != 0:
            raise typer.Exit(status)
    tour = importlib.import_module("ml_ops.demo.cli")  # ai never imports ml_ops
    raise typer.Exit(
        tour.run_tour_command(
            duration=duration, exit_after=exit_after, host=host, port=port, docs=docs, debug=debug
        )
    )


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Interface to bind; loopback unless behind a proxy."
    ),
    port: int = typer.Option(8765, help="Port for the dashboard (/) and the API (/v1)."),
    store: str = typer.Option(None, help="Event store (path or URL); default .devora/events.db."),
    experiments: str = typer.Option(None, help="Experiment store (path or URL)."),
    redis_url: str = typer.Option(None, help="Redis shared by workers (cache, limits, budgets)."),
    config: str = typer.Option(None, help="Gateway config file; default devora.yaml if present."),
    budgets: str = typer.Option(None, help="Budgets file (YAML or JSON)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the OpenAI-compatible gateway (/v1) and the dashboard (/) until Ctrl-C."""
    import importlib

    serve_cli = importlib.import_module("ml_ops.serve.cli")  # ai never imports ml_ops
    serve_cli.run_serve(
        host=host, port=port, store=store, experiments=experiments, redis_url=redis_url,
        config=config, budgets=budgets, workers=workers,
    )  # fmt: skip


@app.command("fake-provider")
def fake_provider(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep it on loopback."),
    port: int = typer.Option(8765, help="Port to listen on (0 picks a free one)."),
    api_key: str = typer.Option(
        "sk-devora-fake", help="API key the fake accepts (any provider's header form)."
    ),
) -> None:
    """Serve the loopback fakes of OpenAI, Anthropic and OpenRouter until Ctrl-C."""
    from ai.testing.server import serve_forever

    serve_forever(host=host, port=port, api_key=api_key)


@app.command("fake-pinecone")
def fake_pinecone(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep it on loopback."),
    port: int = typer.Option(8766, help="Port to listen on (0 picks a free one)."),
    api_key: str = typer.Option("pcsk_devora_fake_key", help="Key accepted in the Api-Key header."),
    index_name: str = typer.Option("devora-embeddings", help="Name of the index served."),
    dimension: int = typer.Option(1536, help="Dimension of the index served."),
    metric: str = typer.Option("cosine", help="cosine, dotproduct or euclidean."),
) -> None:
    """Serve the loopback fake of Pinecone's REST API (data and control plane) until Ctrl-C."""
    from ai.testing.pinecone_server import serve_pinecone_forever

    serve_pinecone_forever(
        host=host,
        port=port,
        api_key=api_key,
        index_name=index_name,
        dimension=dimension,
        metric=metric,
    )


def main() -> None:
    """Entry point for `python -m ai.cli`."""
    app()


if __name__ == "__main__":
    main()
