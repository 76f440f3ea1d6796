"""devora.yaml's `gateway:` section: what it reads, and clear errors for mistakes."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from ai.errors import ConfigurationError
from ml_ops.gateway import load_gateway_config, parse_gateway_config


def _defaults(**values: object) -> dict[str, object]:
    return {"models": {"fast": {"provider": "openai", "model": "m", "defaults": values}}}


def _settings(**values: object) -> dict[str, object]:
    return {"models": {"fast": {"provider": "openai", "model": "m", "settings": values}}}


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
        (
            {"models": {"a": {"provider": "openai", "model": "m", "defaults": {"n": 2}}}},
            r"option\(s\) n;",
        ),
        ({"providers": {"openai": {"api_key": "sk-inline-0123456789"}}}, "api_key_env"),
        ({"teams": {"t": {"budget": "lots"}}}, "10/day"),
        ({"models": {"x": {"provider": "openai", "model": "m"}}, "embeddings": {"x": {}}}, "both"),
        ({"models": {"x": {"provider": "opneai", "model": "m"}}}, r"x\.provider: unknown provider"),
        (
            {
                "models": {
                    "x": {
                        "provider": "openai",
                        "model": "m",
                        "fallbacks": [{"provider": "antrhopic", "model": "y"}],
                    }
                }
            },
            r"fallbacks\[0\]\.provider: unknown provider 'antrhopic'",
        ),
        ({"providers": {"opneai": {}}}, r"providers\.opneai: unknown provider"),
        ({"embeddings": {"e": {"provider": "lokal"}}}, r"e\.provider: unknown provider"),
        (_defaults(temperature="hot"), r"defaults\.temperature must be a number from 0 to 2"),
        (_defaults(temperature=3), r"defaults\.temperature"),
        (_defaults(max_tokens=0), r"defaults\.max_tokens must be a whole number"),
        (_defaults(max_tokens=1.5), r"defaults\.max_tokens"),
        (_defaults(top_p="0.5"), r"defaults\.top_p"),
        (_defaults(seed=True), r"defaults\.seed"),
        (_defaults(stop=[1]), r"defaults\.stop must be a string or a list of strings"),
        (_defaults(reasoning_effort="max"), r"defaults\.reasoning_effort"),
        (_settings(timeout="60"), r"settings\.timeout must be a number of seconds"),
        (_settings(timeout=0), r"settings: LLMConfig: timeout must be > 0"),
        (_settings(max_retries=True), r"settings\.max_retries"),
        (_settings(unsupported_params="ignore"), r"settings: LLMConfig\.unsupported_params"),
        (
            _settings(circuit_failure_threshold=30, circuit_window=10),
            r"circuit_window must be >= circuit_failure_threshold",
        ),
        ({"teams": {"a": {"budget": "0/month"}}}, r"teams\.a\.budget"),
        ({"cache": {"scope": "tenant"}}, r"gateway\.cache\.scope must be shared, team or key"),
        ({"cache": {"scope": "team", "ttl": 5}}, r"gateway\.cache"),
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


def test_repr_masks_the_credentials_of_store_redis_and_provider_urls() -> None:
    config = parse_gateway_config(
        {
            "providers": {"openai": {"base_url": "https://llm.internal/v1?api_key=q-key-0123"}},
            "keys": {"store": "postgresql://gw:pg-pass-4567@db.internal/keys"},
            "limits": {"redis_url": "rediss://limits:redis-pass-89ab@cache.internal:6380/1"},
        }
    )
    shown = repr(config)
    for secret in ("q-key-0123", "pg-pass-4567", "redis-pass-89ab"):
        assert secret not in shown
    assert "postgresql://gw:***@db.internal/keys" in shown and "cache.internal:6380" in shown


def test_a_high_circuit_threshold_gets_a_window_that_fits() -> None:
    """`circuit_window` (the last N calls the breaker judges) must hold the threshold:
    when only the threshold is set, the window grows to it; both may be set."""
    section = _settings(circuit_failure_threshold=30)
    assert parse_gateway_config(section).models["fast"].settings["circuit_window"] == 30
    low = parse_gateway_config(_settings(circuit_failure_threshold=3)).models["fast"]
    assert low.settings["circuit_window"] == 20
    both = _settings(circuit_failure_threshold=30, circuit_window=50)
    assert parse_gateway_config(both).models["fast"].settings["circuit_window"] == 50


def test_a_gateway_with_a_high_circuit_threshold_starts_and_serves(serve_gateway) -> None:  # type: ignore[no-untyped-def]
    settings = {"circuit_failure_threshold": 30, "max_retries": 0}
    gateway = serve_gateway(
        models={"fast": {"provider": "openai", "model": "gpt-4o-mini", "settings": settings}}
    )
    key, _ = gateway.create_key()
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    assert sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}])
    assert gateway.app_gateway.services["fast"].config.circuit_window == 30
