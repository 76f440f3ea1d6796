"""`ai.providers.openai_serving` as a package: its exports, and that it stays framework-free."""

from __future__ import annotations

import subprocess
import sys

import ai.providers.openai_serving as serving


def test_all_matches_the_exported_names() -> None:
    public = {name for name in vars(serving) if not name.startswith("_")}
    modules = {
        "chat_request",
        "chat_response",
        "chat_stream",
        "chat_validation",
        "embeddings",
        "errors",
        "framing",
        "models",
    }
    assert set(serving.__all__) == public - modules


def test_importing_it_pulls_in_no_web_framework_and_no_fake() -> None:
    code = (
        "import sys, ai.providers.openai_serving;"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('starlette', 'uvicorn') or m.startswith('ai.testing')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
