"""The `devora` command: demo, loopback fakes, and (later) RAG and prompt tools."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="devora",
    help="devora-ai: LLM infrastructure (multi-provider client, caching, RAG, ML ops).",
    no_args_is_help=True,
    add_completion=False,
)


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


def main() -> None:
    """Entry point for `python -m ai.cli`."""
    app()


if __name__ == "__main__":
    main()
