"""The `devora` command: one Typer app with `demo`, `fake-provider`, `fake-pinecone`,
and the `rag` and `prompts` command groups (each defined in its own package)."""

from ai.cli.app import app, main

__all__ = ["app", "main"]
