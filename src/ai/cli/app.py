"""The `devora` command: demo, loopback fakes, RAG and prompt tools."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="devora",
    help="devora-ai: LLM infrastructure (multi-provider client, caching, RAG, ML ops).",
    no_args_is_help=True,
    add_completion=False,
)


def _register_subcommands() -> None:
    from ai.prompts.cli import prompts_app
    from ai.rag.cli import rag_app

    app.add_typer(rag_app, name="rag")
    app.add_typer(prompts_app, name="prompts")


_register_subcommands()


@app.command()
def demo(
    prompt: str = typer.Option("Hello!", help="What to ask the model."),
    stream: bool = typer.Option(True, help="Also stream the answer, printing deltas as they come."),
) -> None:
    """Run the Quick Start: one call with tokens, cost and latency printed.

    Uses a real provider when OPENROUTER_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY is
    set, and otherwise the built-in loopback fake, saying which.
    """
    import asyncio
    import os

    from rich.console import Console

    from ai.cli.demo import run_demo

    asyncio.run(run_demo(Console(), os.environ, prompt, stream=stream))


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
