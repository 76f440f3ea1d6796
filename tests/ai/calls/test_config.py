"""LLMConfig: the spec's fields and defaults, validation, and key/URL/fallback resolution."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.calls.config import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    NUMBER_RANGES,
    LLMConfig,
    LLMProvider,
    ModelRoute,
    ResolvedRoute,
    http_limits,
    resolve_routes,
)
from ai.errors import ConfigurationError
from ai.providers.registry import ProviderRegistry, default_registry

OPENAI_KEY = "sk-openai-key-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-key-0123456789abcdef"
OPENROUTER_KEY = "sk-or-v1-key-0123456789abcdef"
ALL_KEYS = {
    "OPENAI_API_KEY": OPENAI_KEY,
    "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    "OPENROUTER_API_KEY": OPENROUTER_KEY,
}


def routes(config: LLMConfig, environ: dict[str, str] | None = None) -> list[ResolvedRoute]:
    return resolve_routes(
        config,
        registry=default_registry(),
        environ=ALL_KEYS if environ is None else environ,
    )


def primary(config: LLMConfig, environ: dict[str, str] | None = None) -> ResolvedRoute:
    return routes(config, environ)[0]


# --- the spec's fields --------------------------------------------------------------------


def test_spec_example_is_accepted_verbatim() -> None:
    config = LLMConfig(
        provider=LLMProvider.OPENROUTER,
        api_key="your_key",
        model="openai/gpt-4o-mini",
        temperature=0.7,
        max_tokens=4096,
        timeout=120.0,
        max_retries=3,
        retry_delay=1.0,
        retry_multiplier=2.0,
        fallback_models=["openai/gpt-4o-mini", "anthropic/claude-3-haiku"],
        enable_streaming=False,
        enable_cost_tracking=True,
    )
    assert config.fallback_models == ["openai/gpt-4o-mini", "anthropic/claude-3-haiku"]


def test_defaults_are_the_specs() -> None:
    config = LLMConfig()
    assert config.provider is LLMProvider.OPENROUTER
    assert config.api_key is None
    assert config.model == "openai/gpt-4o-mini"
    assert config.temperature == 0.7
    assert config.max_tokens == 4096
    assert config.timeout == 120.0
    assert config.max_retries == 3
    assert config.retry_delay == 1.0
    assert config.retry_multiplier == 2.0
    assert config.fallback_models == []
    assert config.enable_streaming is False
    assert config.enable_cost_tracking is True
    assert config.base_url is None


def test_fallback_lists_are_not_shared_between_configs() -> None:
    first, second = LLMConfig(), LLMConfig()
    first.fallback_models.append("x")  # type: ignore[attr-defined]
    assert second.fallback_models == []


def test_fallback_tuple_becomes_a_list() -> None:
    assert LLMConfig(fallback_models=("a", "b")).fallback_models == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("openai", LLMProvider.OPENAI),
        ("anthropic", LLMProvider.ANTHROPIC),
        ("openrouter", LLMProvider.OPENROUTER),
        ("openai_compatible", LLMProvider.OPENAI_COMPATIBLE),
    ],
)
def test_provider_strings_become_the_enum(value: str, expected: LLMProvider) -> None:
    assert LLMConfig(provider=value).provider is expected


def test_unknown_provider_string_is_kept_for_plugins_and_fails_on_resolution() -> None:
    config = LLMConfig(provider="acme")
    assert config.provider == "acme"
    with pytest.raises(ConfigurationError, match="acme") as excinfo:
        routes(config)
    assert "openai" in str(excinfo.value)  # the known providers are listed


def test_misspelt_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="temprature"):
        LLMConfig(temprature=0.2)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("temperature", 2.5),
        ("temperature", float("nan")),
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", float("nan")),
        ("max_retries", -1),
        ("retry_delay", -0.5),
        ("retry_multiplier", 0.5),
        ("retry_jitter", 1.5),
        ("retry_jitter", -0.1),
        ("max_retry_delay", -1.0),
        ("retry_after_cap", -1.0),
        ("circuit_failure_threshold", 0),
        ("circuit_cooldown", -1.0),
    ],
)
def test_invalid_values_raise_configuration_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=field):
        LLMConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0),
        ("temperature", 2),
        ("max_tokens", 1),
        ("max_retries", 0),
        ("retry_delay", 0),
        ("retry_multiplier", 1),
        ("retry_jitter", 0),
        ("retry_jitter", 1),
        ("circuit_failure_threshold", 1),
        ("circuit_cooldown", 0),
    ],
)
def test_boundary_values_are_accepted(field: str, value: Any) -> None:
    assert getattr(LLMConfig(**{field: value}), field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", True),
        ("temperature", "0.5"),
        ("temperature", float("inf")),
        ("max_tokens", 1.5),
        ("max_tokens", True),
        ("max_tokens", "100"),
        ("timeout", "30"),
        ("timeout", float("inf")),
        ("max_retries", 1.5),
        ("max_retries", float("inf")),
        ("retry_delay", float("inf")),
        ("retry_after_cap", float("inf")),
        ("circuit_failure_threshold", 2.5),
        ("circuit_window", 20.5),
        ("circuit_half_open_trials", 1.5),
        ("stream_idle_timeout", float("inf")),
        ("max_stream_event_chars", 2048.5),
        ("model", 5),
        ("provider", 5),
        ("provider", " "),
        ("api_key", 5),
        ("fallback_models", [5]),
        ("fallback_models", [None]),
        ("fallback_models", ["gpt-4o", ""]),
        ("fallback_models", 5),
        ("base_url", 5),
        ("base_url", "not a url"),
        ("base_url", "ftp://host/v1"),
        ("extra_headers", "x"),
        ("extra_headers", {"X-Count": 1}),
        ("enable_streaming", "yes"),
        ("retry_before_fallback", 1),
    ],
)
def test_values_of_the_wrong_kind_are_configuration_errors_naming_the_field(
    field: str, value: Any
) -> None:
    """Checked when the config is built: never a TypeError or ValueError there, nor an
    AttributeError when the service is built, nor a value accepted that fails later."""
    with pytest.raises(ConfigurationError, match=field):
        LLMConfig(**{field: value})


SETTING_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(field=st.sampled_from(sorted(NUMBER_RANGES)), value=SETTING_VALUES)
def test_any_value_of_a_numeric_setting_is_accepted_or_a_configuration_error(
    field: str, value: Any
) -> None:
    defaults = LLMConfig()  # the window must hold at least the threshold's failures
    valid = NUMBER_RANGES[field].admits(value) and not (
        (field == "circuit_window" and value < defaults.circuit_failure_threshold)
        or (field == "circuit_failure_threshold" and value > defaults.circuit_window)
    )
    if not valid:
        with pytest.raises(ConfigurationError, match=field):
            LLMConfig(**{field: value})
        return
    assert getattr(LLMConfig(**{field: value}), field) == value


def test_a_bad_base_url_in_the_environment_names_the_variable() -> None:
    environ = {**ALL_KEYS, "OPENAI_BASE_URL": "localhost:8080"}
    with pytest.raises(ConfigurationError, match="OPENAI_BASE_URL"):
        primary(LLMConfig(provider="openai", model="m"), environ)


def test_a_bad_model_route_is_refused_when_built() -> None:
    with pytest.raises(ConfigurationError, match=r"ModelRoute\.model"):
        ModelRoute("openai", "")
    with pytest.raises(ConfigurationError, match=r"ModelRoute\.base_url"):
        ModelRoute("openai", "gpt-4o", base_url="api.openai.com")


def test_empty_model_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="model"):
        LLMConfig(model="")


def test_fallback_models_as_one_string_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="fallback_models"):
        LLMConfig(fallback_models="gpt-4o")


def test_configuration_error_is_a_devora_error_not_a_value_error() -> None:
    from ai.errors import DevoraError

    with pytest.raises(DevoraError):
        LLMConfig(temperature=9)


# --- repr never leaks the key -------------------------------------------------------------


def test_repr_never_contains_the_key() -> None:
    config = LLMConfig(
        api_key=OPENROUTER_KEY,
        fallback_models=[ModelRoute(LLMProvider.ANTHROPIC, "claude", api_key=ANTHROPIC_KEY)],
    )
    text = repr(config) + str(config) + repr(config.fallback_models)
    assert OPENROUTER_KEY not in text
    assert ANTHROPIC_KEY not in text
    assert "api_key=" in repr(config)  # says whether one is set, masked


def test_repr_of_short_key_shows_nothing_of_it() -> None:
    assert "hunter2" not in repr(LLMConfig(api_key="hunter2"))


def test_resolved_route_repr_hides_auth_headers() -> None:
    route = primary(LLMConfig(provider="openai", model="gpt-4o-mini"))
    assert OPENAI_KEY not in repr(route)


def test_reprs_mask_credentials_in_base_urls() -> None:
    secret = "URLPASSWORD99"
    config = LLMConfig(
        provider="openai",
        base_url=f"http://user:{secret}@proxy.internal/v1",
        fallback_models=[
            ModelRoute("openai_compatible", "llama3", base_url=f"http://h/v1?key={secret}")
        ],
    )
    chain = routes(config)
    shown = repr(config) + repr(config.fallback_models) + repr(chain)
    assert secret not in shown
    assert "http://user:***@proxy.internal/v1" in shown and "key=***" in shown
    assert chain[0].base_url == f"http://user:{secret}@proxy.internal/v1"  # still used
    assert secret in chain[0].secrets  # masked by value in every error of the route


# --- api keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "key"),
    [("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY), ("openrouter", OPENROUTER_KEY)],
)
def test_key_comes_from_the_providers_environment_variable(provider: str, key: str) -> None:
    route = primary(LLMConfig(provider=provider, model="m"))
    assert key in route.headers.values() or f"Bearer {key}" in route.headers.values()


def test_openai_and_openrouter_send_bearer_anthropic_sends_x_api_key() -> None:
    openai = primary(LLMConfig(provider="openai", model="m"))
    assert openai.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    openrouter = primary(LLMConfig(provider="openrouter", model="m"))
    assert openrouter.headers["Authorization"] == f"Bearer {OPENROUTER_KEY}"
    anthropic = primary(LLMConfig(provider="anthropic", model="m"))
    assert anthropic.headers["x-api-key"] == ANTHROPIC_KEY
    assert "Authorization" not in anthropic.headers
    assert anthropic.headers["anthropic-version"]


def test_explicit_key_wins_over_environment() -> None:
    route = primary(LLMConfig(provider="openai", model="m", api_key="sk-explicit-000000000000"))
    assert route.headers["Authorization"] == "Bearer sk-explicit-000000000000"


def test_other_providers_variables_are_not_used() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        primary(LLMConfig(provider="openai", model="m"), {"OPENROUTER_API_KEY": "sk-or-x"})


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(provider: str, variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        primary(LLMConfig(provider=provider, model="m"), {})


def test_empty_environment_key_counts_as_missing() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        primary(LLMConfig(provider="openai", model="m"), {"OPENAI_API_KEY": ""})


def test_openai_compatible_needs_no_key() -> None:
    route = primary(LLMConfig(provider="openai_compatible", model="llama3"), {})
    assert "Authorization" not in route.headers
    assert route.base_url == "http://localhost:11434/v1"


def test_openai_compatible_uses_a_key_when_given() -> None:
    route = primary(LLMConfig(provider="openai_compatible", model="llama3", api_key="local-key"))
    assert route.headers["Authorization"] == "Bearer local-key"


def test_extra_headers_are_sent() -> None:
    route = primary(LLMConfig(provider="openai", model="m", extra_headers={"X-Title": "devora"}))
    assert route.headers["X-Title"] == "devora"
    assert route.headers["content-type"] == "application/json"


# --- base URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "default"),
    [
        ("openai", "https://api.openai.com/v1"),
        ("anthropic", "https://api.anthropic.com"),
        ("openrouter", "https://openrouter.ai/api/v1"),
    ],
)
def test_base_url_defaults(provider: str, default: str) -> None:
    assert primary(LLMConfig(provider=provider, model="m")).base_url == default


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_BASE_URL"),
        ("anthropic", "ANTHROPIC_BASE_URL"),
        ("openrouter", "OPENROUTER_BASE_URL"),
    ],
)
def test_base_url_from_environment_then_argument(provider: str, variable: str) -> None:
    environ = {**ALL_KEYS, variable: "http://proxy.internal:8080/v9"}
    config = LLMConfig(provider=provider, model="m")
    assert primary(config, environ).base_url == "http://proxy.internal:8080/v9"
    explicit = LLMConfig(provider=provider, model="m", base_url="http://explicit:1/")
    assert primary(explicit, environ).base_url == "http://explicit:1"


def test_chat_url_joins_base_url_and_wire_path() -> None:
    openai = primary(LLMConfig(provider="openai", model="m", base_url="http://h/v1/"))
    assert openai.chat_url == "http://h/v1/chat/completions"
    anthropic = primary(LLMConfig(provider="anthropic", model="m"))
    assert anthropic.chat_url == "https://api.anthropic.com/v1/messages"


# --- fallbacks ----------------------------------------------------------------------------


def test_fallback_strings_share_the_primarys_provider_key_and_url() -> None:
    config = LLMConfig(
        provider="openai",
        model="gpt-4o",
        base_url="http://gateway/v1",
        fallback_models=["gpt-4o-mini", "gpt-3.5-turbo"],
    )
    chain = routes(config)
    assert [route.model for route in chain] == ["gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo"]
    assert {route.provider for route in chain} == {"openai"}
    assert {route.base_url for route in chain} == {"http://gateway/v1"}
    assert all(route.headers["Authorization"] == f"Bearer {OPENAI_KEY}" for route in chain)


def test_model_route_crosses_providers_with_its_own_key_and_url() -> None:
    config = LLMConfig(
        provider="openai",
        model="gpt-4o",
        fallback_models=[ModelRoute(LLMProvider.ANTHROPIC, "claude-3-5-haiku")],
    )
    first, second = routes(config)
    assert (second.provider, second.model) == ("anthropic", "claude-3-5-haiku")
    assert second.base_url == "https://api.anthropic.com"
    assert second.headers["x-api-key"] == ANTHROPIC_KEY
    assert first.headers["Authorization"] == f"Bearer {OPENAI_KEY}"


def test_model_route_with_explicit_key_and_url() -> None:
    route = ModelRoute("openrouter", "x/y", api_key="sk-or-explicit-0000", base_url="http://or/")
    config = LLMConfig(provider="openai", model="gpt-4o", fallback_models=[route])
    second = routes(config, {"OPENAI_API_KEY": OPENAI_KEY})[1]
    assert second.headers["Authorization"] == "Bearer sk-or-explicit-0000"
    assert second.base_url == "http://or"


def test_model_route_missing_key_names_its_variable() -> None:
    config = LLMConfig(
        provider="openai",
        model="gpt-4o",
        fallback_models=[ModelRoute(LLMProvider.ANTHROPIC, "claude")],
    )
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        routes(config, {"OPENAI_API_KEY": OPENAI_KEY})


def test_the_same_model_and_url_under_another_key_is_a_second_account() -> None:
    second = "sk-second-account-0123456789"
    config = LLMConfig(
        provider="openai",
        model="gpt-4o-mini",
        fallback_models=[
            ModelRoute("openai", "gpt-4o-mini", api_key=second),
            ModelRoute("openai", "gpt-4o-mini", api_key=second),  # a repeat: dropped
            ModelRoute("openai", "gpt-4o-mini", api_key=OPENAI_KEY),  # the primary's: too
        ],
    )
    first, other = routes(config)
    assert other.headers["Authorization"] == f"Bearer {second}"
    assert (first.model, first.base_url) == (other.model, other.base_url)
    assert first.key != other.key and first.account != other.account
    shown = repr(first) + repr(other) + first.key + other.key + repr(config)
    assert second not in shown and OPENAI_KEY not in shown


def test_duplicate_routes_are_removed_keeping_the_first() -> None:
    config = LLMConfig(
        provider="openrouter",
        model="openai/gpt-4o-mini",
        fallback_models=[
            "openai/gpt-4o-mini",  # the primary again
            "anthropic/claude-3-haiku",
            "anthropic/claude-3-haiku",
            ModelRoute("openrouter", "anthropic/claude-3-haiku"),  # same route spelt out
            ModelRoute("openai", "openai/gpt-4o-mini"),  # another provider: kept
        ],
    )
    chain = routes(config)
    assert [(r.provider, r.model) for r in chain] == [
        ("openrouter", "openai/gpt-4o-mini"),
        ("openrouter", "anthropic/claude-3-haiku"),
        ("openai", "openai/gpt-4o-mini"),
    ]


def test_same_model_on_another_url_is_not_a_duplicate() -> None:
    config = LLMConfig(
        provider="openai",
        model="gpt-4o",
        fallback_models=[ModelRoute("openai", "gpt-4o", base_url="http://mirror/v1")],
    )
    assert [r.base_url for r in routes(config)] == [
        "https://api.openai.com/v1",
        "http://mirror/v1",
    ]


def test_plugin_provider_resolves_through_a_custom_registry() -> None:
    registry = ProviderRegistry()
    openai_spec = default_registry().get("openai")
    registry.register(
        dataclasses.replace(
            openai_spec,
            name="acme",
            api_key_env="ACME_API_KEY",
            base_url_env="ACME_BASE_URL",
            default_base_url="https://acme.example/v1",
        )
    )
    config = LLMConfig(provider="acme", model="acme-1")
    route = resolve_routes(config, registry=registry, environ={"ACME_API_KEY": "k-acme"})[0]
    assert (route.provider, route.base_url) == ("acme", "https://acme.example/v1")
    assert route.headers["Authorization"] == "Bearer k-acme"


# --- connection pool settings ---------------------------------------------------------------


def test_connection_limits_have_measured_defaults_and_accept_none() -> None:
    config = LLMConfig()
    assert config.max_connections == DEFAULT_MAX_CONNECTIONS
    assert config.max_keepalive_connections == DEFAULT_MAX_KEEPALIVE_CONNECTIONS
    assert config.http2 is False
    assert DEFAULT_MAX_KEEPALIVE_CONNECTIONS <= DEFAULT_MAX_CONNECTIONS
    unlimited = LLMConfig(max_connections=None, max_keepalive_connections=None)
    assert (unlimited.max_connections, unlimited.max_keepalive_connections) == (None, None)
    assert LLMConfig(max_connections=10, max_keepalive_connections=0).max_connections == 10


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_connections": 0}, "max_connections must be >= 1"),
        ({"max_connections": -5}, "max_connections must be >= 1"),
        ({"max_connections": True}, "max_connections must be an integer"),
        ({"max_connections": 2.5}, "max_connections must be an integer"),
        ({"max_connections": "100"}, "max_connections must be an integer"),
        ({"max_keepalive_connections": -1}, "max_keepalive_connections must be >= 0"),
        ({"http2": "yes"}, "http2 must be True or False"),
    ],
)
def test_connection_limits_are_validated(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LLMConfig(**settings)


def test_keep_alive_connections_are_capped_at_max_connections() -> None:
    assert http_limits(5, 10) == httpx.Limits(max_connections=5, max_keepalive_connections=5)
    assert http_limits(5, None) == httpx.Limits(max_connections=5, max_keepalive_connections=5)
    assert http_limits(None, 10) == httpx.Limits(max_connections=None, max_keepalive_connections=10)
    assert http_limits(9, 3) == httpx.Limits(max_connections=9, max_keepalive_connections=3)


def test_http2_without_h2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "h2" else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=r"httpx\[http2\]"):
        LLMConfig(http2=True)
