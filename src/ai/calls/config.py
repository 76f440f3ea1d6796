"""LLM configuration: the spec's `LLMConfig`, providers, and resolution of keys and URLs."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from ai.errors import ConfigurationError, mask_secret
from ai.providers.base import ProviderSpec
from ai.providers.capabilities import ModelCapabilities
from ai.providers.parameters import UnsupportedParams
from ai.providers.registry import ProviderRegistry
from ai.providers.sse import DEFAULT_MAX_EVENT_CHARS

#: Connection pool of the httpx client an `LLMService` opens for itself (see
#: docs/benchmarks.md, "LLM call overhead", for the measurement behind these numbers).
DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 200


class LLMProvider(StrEnum):
    """The built-in providers. Plugins may register more; pass their name as a string."""

    OPENROUTER = "openrouter"
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A fallback on another provider: `ModelRoute(LLMProvider.ANTHROPIC, "claude-3-5-haiku")`.

    Key and URL default to that provider's environment variables, like the primary's.
    """

    provider: LLMProvider | str
    model: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None


@dataclass
class LLMConfig:
    """Everything `LLMService` needs; validated when built, so mistakes surface early.

    `timeout` is a deadline across all attempts and fallbacks of one call, not per try: a
    non-streamed call must be answered in full by then, a stream must have sent its first
    text. After that, a stream fails if `stream_idle_timeout` seconds pass without text
    (keep-alive comments do not count). One stream event may be at most
    `max_stream_event_chars` characters.

    Parameters a model does not take are fitted to it (`ai.providers.parameters`):
    translated where there is a translation, else dropped; `unsupported_params` says
    what happens to one the caller chose: "drop", "warn" (drop and log once) or "error".
    `model_capabilities` overrides or adds what a model accepts, by exact model name.
    `fallback_models` are tried in order after the primary `model` fails in a way another
    model can fix; a plain string is a model on the same provider, a `ModelRoute` one on
    another provider. A model is retried `max_retries` times with backoff, except that a
    retryable failure (429, 5xx, timeout, refused connection) that follows another failed
    attempt of the same model (a streak: the model is down, not blipping) goes to the
    fallback at once, when there is one with its circuit not open: a healthy model now
    beats a retry of a sick one after a second's wait. `retry_before_fallback=True`
    retries every model `max_retries` times before the next, streak or not.

    `max_connections` and `max_keepalive_connections` bound the connection pool of the
    httpx client the service opens for itself (`None`: no limit; a client passed as
    `LLMService(http_client=...)` keeps its own); calls beyond `max_connections` wait for a
    free connection. `http2=True` speaks HTTP/2 where the server offers it (needs
    `httpx[http2]`).
    """

    provider: LLMProvider | str = LLMProvider.OPENROUTER
    api_key: str | None = field(default=None, repr=False)
    model: str = "openai/gpt-4o-mini"
    temperature: float = 0.7
    max_tokens: int = 4096
    timeout: float = 120.0
    max_retries: int = 3
    retry_delay: float = 1.0
    retry_multiplier: float = 2.0
    fallback_models: Sequence[str | ModelRoute] = field(default_factory=list)
    enable_streaming: bool = False
    enable_cost_tracking: bool = True
    base_url: str | None = None
    max_retry_delay: float = 30.0
    retry_jitter: float = 0.25
    retry_after_cap: float = 60.0
    retry_before_fallback: bool = False
    circuit_failure_threshold: int = 5
    circuit_cooldown: float = 30.0
    circuit_failure_rate: float = 0.5
    circuit_window: int = 20
    circuit_half_open_trials: int = 1
    stream_idle_timeout: float = 60.0
    max_stream_event_chars: int = DEFAULT_MAX_EVENT_CHARS
    unsupported_params: UnsupportedParams | str = UnsupportedParams.WARN
    model_capabilities: Mapping[str, ModelCapabilities] = field(default_factory=dict)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    max_connections: int | None = DEFAULT_MAX_CONNECTIONS
    max_keepalive_connections: int | None = DEFAULT_MAX_KEEPALIVE_CONNECTIONS
    http2: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.provider, str) and not isinstance(self.provider, LLMProvider):
            name = self.provider.strip().lower()
            if name in LLMProvider.__members__.values():
                self.provider = LLMProvider(name)
        if not self.model:
            raise ConfigurationError(
                "LLMConfig.model is empty; name a model such as 'gpt-4o-mini'."
            )
        _check(
            0 <= self.temperature <= 2, f"temperature must be within [0, 2], got {self.temperature}"
        )
        _check(self.max_tokens >= 1, f"max_tokens must be >= 1, got {self.max_tokens}")
        _check(self.timeout > 0, f"timeout must be > 0 seconds, got {self.timeout}")
        _check(self.max_retries >= 0, f"max_retries must be >= 0, got {self.max_retries}")
        _check(self.retry_delay >= 0, f"retry_delay must be >= 0, got {self.retry_delay}")
        _check(
            self.retry_multiplier >= 1,
            f"retry_multiplier must be >= 1, got {self.retry_multiplier}",
        )
        _check(
            self.max_retry_delay >= 0,
            f"max_retry_delay must be >= 0, got {self.max_retry_delay}",
        )
        _check(
            0 <= self.retry_jitter <= 1,
            f"retry_jitter must be within [0, 1], got {self.retry_jitter}",
        )
        _check(
            self.retry_after_cap >= 0,
            f"retry_after_cap must be >= 0, got {self.retry_after_cap}",
        )
        _check(
            self.circuit_failure_threshold >= 1,
            f"circuit_failure_threshold must be >= 1, got {self.circuit_failure_threshold}",
        )
        _check(
            self.circuit_cooldown >= 0,
            f"circuit_cooldown must be >= 0 seconds, got {self.circuit_cooldown}",
        )
        _check(
            0 < self.circuit_failure_rate <= 1,
            f"circuit_failure_rate must be within (0, 1], got {self.circuit_failure_rate}",
        )
        _check(
            self.circuit_window >= self.circuit_failure_threshold,
            f"circuit_window must be >= circuit_failure_threshold, got {self.circuit_window}",
        )
        _check(
            self.stream_idle_timeout > 0,
            f"stream_idle_timeout must be > 0 seconds, got {self.stream_idle_timeout}",
        )
        _check(
            self.max_stream_event_chars >= 1024,
            f"max_stream_event_chars must be >= 1024, got {self.max_stream_event_chars}",
        )
        _check(
            self.circuit_half_open_trials >= 1,
            f"circuit_half_open_trials must be >= 1, got {self.circuit_half_open_trials}",
        )
        check_connection_limits(
            self.max_connections, self.max_keepalive_connections, self.http2, "LLMConfig"
        )
        try:
            self.unsupported_params = UnsupportedParams(self.unsupported_params)
        except ValueError:
            raise ConfigurationError(
                f"LLMConfig.unsupported_params must be one of "
                f"{[p.value for p in UnsupportedParams]}, got {self.unsupported_params!r}."
            ) from None
        if isinstance(self.fallback_models, str):
            raise ConfigurationError(
                "fallback_models must be a list of model names, not one string."
            )
        self.fallback_models = list(self.fallback_models)

    def __repr__(self) -> str:
        return (
            f"LLMConfig(provider={str(self.provider)!r}, model={self.model!r}, "
            f"api_key={mask_secret(self.api_key)!r}, base_url={self.base_url!r}, "
            f"fallback_models={self.fallback_models!r})"
        )


def check_connection_limits(
    max_connections: int | None, max_keepalive_connections: int | None, http2: bool, owner: str
) -> None:
    """Validate the HTTP pool settings of `owner` ("LLMConfig", "EmbeddingService").

    `None` means "no limit", as in `httpx.Limits`. Keep-alive connections are a subset of
    all connections: more of them than `max_connections` means `max_connections` (see
    `http_limits`). HTTP/2 needs httpx's `http2` extra.
    """
    for name, value, least in (
        ("max_connections", max_connections, 1),
        ("max_keepalive_connections", max_keepalive_connections, 0),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigurationError(
                f"{owner}: {name} must be an integer or None (no limit), got {value!r}."
            )
        if value is not None and value < least:
            raise ConfigurationError(
                f"{owner}: {name} must be >= {least} or None (no limit), got {value}."
            )
    if not isinstance(http2, bool):
        raise ConfigurationError(f"{owner}: http2 must be True or False, got {http2!r}.")
    if http2 and importlib.util.find_spec("h2") is None:
        raise ConfigurationError(
            f"{owner}: http2=True needs the h2 package: pip install 'httpx[http2]'."
        )


def http_limits(max_connections: int | None, max_keepalive_connections: int | None) -> httpx.Limits:
    """The `httpx.Limits` of a pool built from validated settings; keep-alive connections
    capped at `max_connections` (so `LLMConfig(max_connections=10)` needs no second
    setting)."""
    if max_connections is not None and (
        max_keepalive_connections is None or max_keepalive_connections > max_connections
    ):
        max_keepalive_connections = max_connections
    return httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_keepalive_connections
    )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigurationError(f"LLMConfig: {message}.")


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    """A model on a provider with its key, URL and headers settled."""

    spec: ProviderSpec
    model: str
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        """Identity for the circuit breaker."""
        return f"{self.spec.name}:{self.base_url}:{self.model}"

    @property
    def chat_url(self) -> str:
        return self.base_url + self.spec.wire.chat_path

    def with_model(self, model: str) -> ResolvedRoute:
        return dataclasses.replace(self, model=model)

    def with_secrets(self, secrets: Sequence[str]) -> ResolvedRoute:
        """This route, masking `secrets` (every configured key) in the errors it raises."""
        return dataclasses.replace(self, secrets=tuple(dict.fromkeys((*self.secrets, *secrets))))


def resolve_route(
    route: ModelRoute,
    *,
    registry: ProviderRegistry,
    environ: Mapping[str, str],
    extra_headers: Mapping[str, str],
) -> ResolvedRoute:
    """Settle key and URL: explicit value, then the provider's environment variable."""
    spec = registry.get(str(route.provider))
    key = route.api_key or environ.get(spec.api_key_env)
    if not key and spec.api_key_required:
        raise ConfigurationError(
            f"No API key for provider {spec.name!r}: set the environment variable "
            f"{spec.api_key_env} or pass LLMConfig(api_key=...)."
        )
    url = (route.base_url or environ.get(spec.base_url_env) or spec.default_base_url).rstrip("/")
    headers = {"content-type": "application/json", **spec.static_headers}
    if key:
        headers.update(spec.auth_headers(key))
    headers.update(extra_headers)
    secrets = (key,) if key else ()
    return ResolvedRoute(
        spec=spec, model=route.model, base_url=url, headers=headers, secrets=secrets
    )


def resolve_routes(
    config: LLMConfig, *, registry: ProviderRegistry, environ: Mapping[str, str]
) -> list[ResolvedRoute]:
    """The primary route followed by every fallback, in order, without repeats.

    A fallback given as a plain model name shares the primary's provider, key and URL.
    """
    primary = ModelRoute(config.provider, config.model, config.api_key, config.base_url)
    wanted = [primary] + [
        dataclasses.replace(primary, model=fallback) if isinstance(fallback, str) else fallback
        for fallback in config.fallback_models
    ]
    unique: dict[str, ResolvedRoute] = {}
    for route in wanted:
        resolved = resolve_route(
            route, registry=registry, environ=environ, extra_headers=config.extra_headers
        )
        unique.setdefault(resolved.key, resolved)
    keys = [secret for route in unique.values() for secret in route.secrets]
    return [route.with_secrets(keys) for route in unique.values()]
