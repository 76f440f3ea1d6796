"""LLM configuration: the spec's `LLMConfig`, providers, and resolution of keys and URLs."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import httpx

from ai.errors import ConfigurationError, mask_secret, mask_url, url_secrets
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
class NumberRange:
    """The values a numeric setting takes: a finite number (an integer if `integer`; never
    a bool) from `low` (excluded if `open_low`) to `high`. Checked when a config is built
    and for the per-call values, so a bad value is a `ConfigurationError` before anything
    is sent, never a `TypeError` or a NaN deadline deep in a call."""

    low: float
    high: float = math.inf
    integer: bool = False
    open_low: bool = False

    def admits(self, value: object) -> bool:
        """Whether `value` is a number of the right kind within the range."""
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        number = float(value)
        if not math.isfinite(number):
            return False
        above = number > self.low if self.open_low else number >= self.low
        return above and number <= self.high

    def check(self, name: str, value: object, owner: str = "LLMConfig") -> None:
        """Raise `ConfigurationError` naming `name` unless the range admits `value`."""
        if not self.admits(value):
            raise ConfigurationError(f"{owner}: {name} must be {self}, got {value!r}.")

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.high == math.inf:
            return f"{'>' if self.open_low else '>='} {self.low:g} ({kind})"
        opening = "(" if self.open_low else "["
        return f"within {opening}{self.low:g}, {self.high:g}] ({kind})"


SECONDS = NumberRange(0.0, open_low=True)
#: The numeric settings of `LLMConfig` and the per-call options of the same name.
NUMBER_RANGES: Mapping[str, NumberRange] = {
    "temperature": NumberRange(0.0, 2.0),
    "max_tokens": NumberRange(1, integer=True),
    "timeout": SECONDS,
    "max_retries": NumberRange(0, integer=True),
    "retry_delay": NumberRange(0.0),
    "retry_multiplier": NumberRange(1.0),
    "max_retry_delay": NumberRange(0.0),
    "retry_jitter": NumberRange(0.0, 1.0),
    "retry_after_cap": NumberRange(0.0),
    "circuit_failure_threshold": NumberRange(1, integer=True),
    "circuit_cooldown": NumberRange(0.0),
    "circuit_failure_rate": NumberRange(0.0, 1.0, open_low=True),
    "circuit_window": NumberRange(1, 10**9, integer=True),  # a deque's length
    "circuit_half_open_trials": NumberRange(1, integer=True),
    "stream_idle_timeout": SECONDS,
    "max_stream_event_chars": NumberRange(1024, integer=True),
}


def check_base_url(url: object, what: str) -> None:
    """`url` must be an http(s) URL with a host: anything else would fail only when the
    first call is sent. The message masks the URL's credentials."""
    shown = mask_url(url) if isinstance(url, str) else repr(url)
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        valid = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ConfigurationError(
            f"{what} must be an http:// or https:// URL such as 'http://localhost:11434/v1', "
            f"got {shown}."
        )


def _check_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}.")


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A fallback on another provider: `ModelRoute(LLMProvider.ANTHROPIC, "claude-3-5-haiku")`.

    Key and URL default to that provider's environment variables, like the primary's.
    The same model and URL with another `api_key` is a route of its own (a second
    account), not a repeat. `repr` masks the key and the URL's credentials.
    """

    provider: LLMProvider | str
    model: str
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.provider, "ModelRoute.provider")
        _check_name(self.model, "ModelRoute.model")
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise ConfigurationError("ModelRoute.api_key must be a string or None.")
        if self.base_url:  # empty: the environment variable or the default, as None
            check_base_url(self.base_url, "ModelRoute.base_url")

    def __repr__(self) -> str:
        url = mask_url(self.base_url) if self.base_url else self.base_url
        return (
            f"ModelRoute(provider={str(self.provider)!r}, model={self.model!r}, "
            f"api_key={mask_secret(self.api_key)!r}, base_url={url!r})"
        )


@dataclass
class LLMConfig:
    """Everything `LLMService` needs; validated when built, so mistakes surface early.

    `timeout` is a deadline across all attempts and fallbacks of one call, not per try: a
    non-streamed call must be answered in full by then (so must `complete()` with
    `enable_streaming`), a stream must have sent its first text. After that, a stream
    fails if `stream_idle_timeout` seconds pass without text (keep-alive comments do not
    count). One stream event may be at most `max_stream_event_chars` characters.

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
        _check_name(self.provider, "LLMConfig.provider")
        if not isinstance(self.provider, LLMProvider):
            name = self.provider.strip().lower()
            if name in LLMProvider.__members__.values():
                self.provider = LLMProvider(name)
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigurationError(
                f"LLMConfig.model must name a model such as 'gpt-4o-mini', got {self.model!r}."
            )
        for name, valid in NUMBER_RANGES.items():
            valid.check(name, getattr(self, name))
        _check(
            self.circuit_window >= self.circuit_failure_threshold,
            f"circuit_window must be >= circuit_failure_threshold, got {self.circuit_window}",
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
        self._check_kinds()
        self.fallback_models = list(self.fallback_models)

    def _check_kinds(self) -> None:
        """The settings that are not numbers: each of the type it must be."""
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise ConfigurationError("LLMConfig: api_key must be a string or None.")
        if self.base_url:  # empty: the environment variable or the default, as None
            check_base_url(self.base_url, "LLMConfig.base_url")
        for name in ("enable_streaming", "enable_cost_tracking", "retry_before_fallback"):
            value = getattr(self, name)
            _check(isinstance(value, bool), f"{name} must be True or False, got {value!r}")
        headers = self.extra_headers
        _check(
            isinstance(headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()),
            "extra_headers must be a mapping of header names to string values, "
            f"got {type(headers).__name__}",
        )
        _check(
            isinstance(self.model_capabilities, Mapping),
            "model_capabilities must be a mapping of model names to ModelCapabilities",
        )
        if isinstance(self.fallback_models, str) or not isinstance(self.fallback_models, Sequence):
            raise ConfigurationError(
                "fallback_models must be a list of model names or ModelRoute objects, not "
                f"{type(self.fallback_models).__name__}."
            )
        for index, fallback in enumerate(self.fallback_models):
            if not isinstance(fallback, ModelRoute):
                _check_name(fallback, f"LLMConfig.fallback_models[{index}] (a model name)")

    def __repr__(self) -> str:
        return (
            f"LLMConfig(provider={str(self.provider)!r}, model={self.model!r}, "
            f"api_key={mask_secret(self.api_key)!r}, base_url={self._shown_url()!r}, "
            f"fallback_models={self.fallback_models!r})"
        )

    def _shown_url(self) -> str | None:
        return mask_url(self.base_url) if self.base_url else self.base_url


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
    """A model on a provider with its key, URL and headers settled.

    `account` is a fingerprint of the API key (a hash, never the key), so that the same
    model and URL under two keys (two accounts, each with its own limits) are two routes
    with a circuit breaker each. `repr` shows neither the key nor the URL's credentials.
    """

    spec: ProviderSpec
    model: str
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    account: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return (
            f"ResolvedRoute(provider={self.provider!r}, model={self.model!r}, "
            f"base_url={mask_url(self.base_url)!r})"
        )

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        """Identity for the circuit breaker and for telling routes apart."""
        return f"{self.spec.name}:{self.base_url}:{self.model}:{self.account}"

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
    url = route.base_url or environ.get(spec.base_url_env) or spec.default_base_url
    if not route.base_url and environ.get(spec.base_url_env):
        check_base_url(url, f"The environment variable {spec.base_url_env}")
    url = url.rstrip("/")
    headers = {"content-type": "application/json", **spec.static_headers}
    if key:
        headers.update(spec.auth_headers(key))
    headers.update(extra_headers)
    secrets = ((key,) if key else ()) + url_secrets(url)
    return ResolvedRoute(
        spec=spec,
        model=route.model,
        base_url=url,
        headers=headers,
        secrets=secrets,
        account=_fingerprint(key),
    )


def _fingerprint(key: str | None) -> str:
    """A short hash telling API keys apart without showing them (empty without a key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16] if key else ""


def resolve_routes(
    config: LLMConfig, *, registry: ProviderRegistry, environ: Mapping[str, str]
) -> list[ResolvedRoute]:
    """The primary route followed by every fallback, in order, without repeats (the same
    model at the same URL with the same key; another key is another account, kept).

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
