"""devora.yaml's `gateway:` section: what it reads, and clear errors for mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ml_ops.gateway import load_gateway_config, parse_gateway_config

FILE = """
gateway:
  providers:
    openai: {api_key_env: MY_OPENAI_KEY, base_url: http://127.0.0.1:9/v1}
  models:
    fast:
      provider: openai
      model: gpt-4o-mini
      fallbacks: [gpt-4o, {provider: anthropic, model: claude-3-5-haiku-latest}]
      defaults: {temperature: 0.2, max_tokens: 512, seed: 1}
  embeddings:
    embed: {model: text-embedding-3-small}
  teams:
    search: {budget: 200/month}
  logging: {content: true}
"""


def test_reads_aliases_fallbacks_teams_and_providers(tmp_path: Path) -> None:
    path = tmp_path / "devora.yaml"
    path.write_text(FILE)
    config = load_gateway_config(path)
    fast = config.models["fast"]
    assert (fast.target.provider, fast.target.model) == ("openai", "gpt-4o-mini")
    assert [(t.provider, t.model) for t in fast.fallbacks] == [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-3-5-haiku-latest"),
    ]
    assert fast.defaults["temperature"] == 0.2
    assert config.embeddings["embed"].provider == "openai"
    assert str(config.teams["search"]) == "200/monthly"
    assert config.provider("openai").resolve_key({"MY_OPENAI_KEY": "k"}) == "k"
    assert config.log_content


def test_missing_default_file_is_empty_and_named_missing_file_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_gateway_config(environ={}).models == {}
    with pytest.raises(ConfigurationError, match="not found"):
        load_gateway_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"modles": {}}, r"unknown option\(s\) modles"),
        ({"models": {"a": {"provider": "openai"}}}, r"models\.a\.model"),
        ({"models": {"a": {"provider": "openai", "model": "m", "defauts": {}}}}, "defauts"),
        ({"models": {"a": {"provider": "o", "model": "m", "defaults": {"n": 2}}}}, "n"),
        ({"providers": {"openai": {"api_key": "sk-inline-0123456789"}}}, "api_key_env"),
        ({"teams": {"t": {"budget": "lots"}}}, "10/day"),
        ({"models": {"x": {"provider": "o", "model": "m"}}, "embeddings": {"x": {}}}, "both"),
    ],
)
def test_mistakes_name_their_path(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_gateway_config(section)
    assert "sk-inline" not in str(caught.value)


def test_inline_keys_only_when_allowed_and_never_in_repr() -> None:
    config = parse_gateway_config(
        {"allow_inline_keys": True, "providers": {"openai": {"api_key": "sk-inline-0123456789"}}}
    )
    assert config.provider("openai").resolve_key({}) == "sk-inline-0123456789"
    assert "sk-inline" not in repr(config)
