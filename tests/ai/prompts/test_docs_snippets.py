"""The README's prompt snippet runs as written, and the built-in count it quotes is true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ai.prompts import TemplateManager, builtin_templates
from tests.test_quickstart import run_snippet

ROOT = Path(__file__).resolve().parents[3]


def readme_prompt_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    matching = [block for block in blocks if "TemplateManager()" in block]
    assert len(matching) == 1
    return matching[0]


async def test_readme_snippet_runs_in_a_fresh_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEVORA_PROMPTS_STORE", raising=False)
    output = await run_snippet(readme_prompt_snippet())
    version, cost = output.split()
    assert version == "2" and float(cost) > 0
    assert (tmp_path / ".devora" / "prompts" / "greet.yaml").is_file()
    async with TemplateManager() as restarted:  # another process would see the same
        assert [v.version for v in await restarted.versions("greet")] == [1, 2]
        assert await restarted.labels("greet") == {"production": 2, "staging": 2}


def test_readme_quotes_the_library_size() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"a built-in library of {len(builtin_templates())}" in readme
