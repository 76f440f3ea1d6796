"""The gateway's configuration: model aliases, providers, embeddings, teams, keys, limits
and logging, read from the `gateway:` section of `devora.yaml`.

    gateway:
      providers:
        openai: {api_key_env: OPENAI_API_KEY}
        anthropic: {api_key_env: ANTHROPIC_API_KEY, base_url: https://api.anthropic.com}
      models:
        fast:
          provider: openai
          model: gpt-4o-mini
          fallbacks: [{provider: anthropic, model: claude-3-5-haiku-latest}]
          defaults: {temperature: 0.2, max_tokens: 1024}
        auto:
          kind: router            # the cheap model for simple requests, else the capable one
          cheap: fast
          capable: {provider: openai, model: gpt-4o}
      embeddings:
        embed: {provider: openai, model: text-embedding-3-small}
      teams:
        research: {budget: 100/month}

YAML is read with `yaml.safe_load` and checked here, so a misspelt option is an error
that names its path (`gateway.models.fast.defauts`) and the options that exist; so are an
unknown provider, and a default or setting of the wrong type or out of range
(`ml_ops.gateway.config_values`), which would otherwise fail only when the gateway
starts. Keys are read from the environment variables named (`api_key_env`); an inline
`api_key` is refused unless `allow_inline_keys: true`, and never appears in a repr or a
message.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ai.calls.config import LLMConfig
from ai.errors import ConfigurationError, repr_masking_urls
from ai.routing import DEFAULT_RULES, Complexity, RouterRule
from ml_ops.gateway.config_values import (
    ALIAS_DEFAULTS,
    ALIAS_SETTINGS,
    checked,
    known_provider,
    mapping,
    typed,
)
from ml_ops.gateway.keys import BudgetSpec, parse_budget

DEFAULT_CONFIG_FILE = "devora.yaml"
CONFIG_ENV = "DEVORA_CONFIG"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Where a provider is reached: `base_url` (None: its default or environment variable)
    and where its key comes from (`api_key_env`; None: the provider's usual variable).
    `api_key` is set only when inline keys were allowed; it never shows in a repr, nor do
    the credentials of `base_url`."""

    base_url: str | None = None
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return repr_masking_urls(self, ("base_url",))

    def resolve_key(self, environ: Mapping[str, str]) -> str | None:
        """The key to use: inline, else the named variable (None: the provider's own)."""
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            return environ.get(self.api_key_env) or None
        return None


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One model on one provider (a primary or a fallback)."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """A name clients send as `model`: a primary route, fallbacks tried in order, request
    defaults the client may override, and `LLMConfig` settings (timeouts, retries)."""

    name: str
    target: RouteTarget
    fallbacks: tuple[RouteTarget, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


class AliasKind(StrEnum):
    """What a chat alias is: one model with its fallbacks, or a router between two."""

    MODEL = "model"
    ROUTER = "router"


@dataclass(frozen=True, slots=True)
class RouterAlias:
    """A name that sends each request to `cheap` or `capable`, as `ai.routing.ModelRouter`
    decides (the client's complexity hint, then `rules`; when unsure, `capable`). Each
    target is a configured model alias, or one written inline (named `<router>.cheap` or
    `<router>.capable`, not callable by itself)."""

    name: str
    cheap: ModelAlias
    capable: ModelAlias
    rules: tuple[RouterRule, ...] = DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class EmbeddingAlias:
    """A name for `/v1/embeddings`: `provider` "openai" (or any OpenAI-compatible host via
    `base_url`) or "local" (sentence-transformers), the model, optional `dimensions`."""

    name: str
    provider: str
    model: str | None = None
    dimensions: int | None = None


@dataclass(frozen=True, slots=True)
class KeySettings:
    """Where virtual keys live (`store`: a SQLite file or PostgreSQL URL; None: beside the
    event store), how long a looked-up key is trusted in memory (`cache_ttl` seconds:
    also how long a revocation takes to reach other processes), and the hashing secret's
    file (used when `DEVORA_KEY_SECRET` is unset). The repr masks the store URL's
    credentials."""

    store: str | None = None
    cache_ttl: float = 10.0
    secret_file: str | None = None

    def __repr__(self) -> str:
        return repr_masking_urls(self, ("store",))


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Rate-limit state: `redis_url` (None: `$REDIS_URL`, else per process; masked in the
    repr)."""

    redis_url: str | None = None
    redis_retry_after: float = 5.0

    def __repr__(self) -> str:
        return repr_masking_urls(self, ("redis_url",))


class CacheScope(StrEnum):
    """Who shares cached answers: every key (`shared`), a team's keys (`team`; a key
    without a team keeps its own), or each key alone (`key`)."""

    SHARED = "shared"
    TEAM = "team"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole `gateway:` section, validated."""

    models: Mapping[str, ModelAlias] = field(default_factory=dict)
    routers: Mapping[str, RouterAlias] = field(default_factory=dict)
    embeddings: Mapping[str, EmbeddingAlias] = field(default_factory=dict)
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    teams: Mapping[str, BudgetSpec] = field(default_factory=dict)
    keys: KeySettings = field(default_factory=KeySettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    log_content: bool = False
    cache_scope: CacheScope = CacheScope.SHARED

    def provider(self, name: str) -> ProviderSettings:
        """The settings of provider `name` (defaults when the file names none)."""
        return self.providers.get(name, ProviderSettings())


def load_gateway_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Read and check the `gateway:` section of `path` (default `$DEVORA_CONFIG`, else
    `devora.yaml`). A missing default file gives an empty configuration; a missing file
    that was named is an error."""
    env = os.environ if environ is None else environ
    named = path if path is not None else env.get(CONFIG_ENV)
    target = Path(named if named else DEFAULT_CONFIG_FILE)
    if not target.exists():
        if named:
            raise ConfigurationError(f"Gateway configuration file {str(target)!r} not found.")
        return GatewayConfig()
    try:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{target}: not valid YAML: {exc}") from None
    if data is None:
        return GatewayConfig()
    section = mapping(data, str(target)).get("gateway")
    return parse_gateway_config(section or {}, where=f"{target}: gateway")


def parse_gateway_config(data: object, *, where: str = "gateway") -> GatewayConfig:
    """A `GatewayConfig` from the decoded `gateway:` mapping; errors name the path."""
    section = checked(
        data,
        where,
        {"models", "embeddings", "providers", "teams", "keys", "limits", "logging", "cache"}
        | {"allow_inline_keys"},
    )
    inline = section.get("allow_inline_keys", False)
    if not isinstance(inline, bool):
        raise ConfigurationError(f"{where}.allow_inline_keys must be true or false.")
    providers = {
        name: _provider(name, value, f"{where}.providers.{name}", inline)
        for name, value in mapping(section.get("providers") or {}, f"{where}.providers").items()
    }
    declared = mapping(section.get("models") or {}, f"{where}.models")
    kinds = {name: _kind(value, f"{where}.models.{name}") for name, value in declared.items()}
    models = {
        name: _alias(name, value, f"{where}.models.{name}")
        for name, value in declared.items()
        if kinds[name] is AliasKind.MODEL
    }
    routers = {
        name: _router(name, value, models, set(declared) - set(models), f"{where}.models.{name}")
        for name, value in declared.items()
        if kinds[name] is AliasKind.ROUTER
    }
    embeddings = {
        name: _embedding(name, value, f"{where}.embeddings.{name}")
        for name, value in mapping(section.get("embeddings") or {}, f"{where}.embeddings").items()
    }
    clash = sorted(set(declared) & set(embeddings))
    if clash:
        raise ConfigurationError(
            f"{where}: {', '.join(clash)} is both a chat model and an embedding model; "
            "give each its own name."
        )
    teams = {
        name: _team(value, f"{where}.teams.{name}")
        for name, value in mapping(section.get("teams") or {}, f"{where}.teams").items()
    }
    logging_section = checked(section.get("logging") or {}, f"{where}.logging", {"content"})
    content = logging_section.get("content", False)
    if not isinstance(content, bool):
        raise ConfigurationError(f"{where}.logging.content must be true or false.")
    cache_section = checked(section.get("cache") or {}, f"{where}.cache", {"scope"})
    scope = cache_section.get("scope", CacheScope.SHARED.value)
    if scope not in {s.value for s in CacheScope}:
        raise ConfigurationError(f"{where}.cache.scope must be shared, team or key, got {scope!r}.")
    return GatewayConfig(
        models=models,
        routers=routers,
        embeddings=embeddings,
        providers=providers,
        teams=teams,
        keys=_keys(section.get("keys") or {}, f"{where}.keys"),
        limits=_limits(section.get("limits") or {}, f"{where}.limits"),
        log_content=content,
        cache_scope=CacheScope(scope),
    )


# --- the parts ------------------------------------------------------------------------


def _string(value: object, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where} must be a non-empty string.")
    return value.strip()


def _provider(name: str, value: object, where: str, inline_allowed: bool) -> ProviderSettings:
    known_provider(name, where, embeddings=True)
    section = checked(value or {}, where, {"base_url", "api_key_env", "api_key"})
    key = section.get("api_key")
    if key is not None and not inline_allowed:
        raise ConfigurationError(
            f"{where}.api_key: keys are not written into the configuration file; name the "
            "environment variable that holds it with api_key_env (or set "
            "gateway.allow_inline_keys: true if this file is kept secret)."
        )
    return ProviderSettings(
        base_url=_string(section.get("base_url"), f"{where}.base_url", required=False),
        api_key_env=_string(section.get("api_key_env"), f"{where}.api_key_env", required=False),
        api_key=_string(key, f"{where}.api_key", required=False),
    )


def _target(value: object, where: str, default_provider: str | None) -> RouteTarget:
    if isinstance(value, str) and default_provider is not None:
        return RouteTarget(default_provider, value)
    section = checked(value, where, {"provider", "model"})
    provider = _string(section.get("provider", default_provider), f"{where}.provider")
    model = _string(section.get("model"), f"{where}.model")
    assert provider is not None
    assert model is not None
    known_provider(provider, f"{where}.provider", embeddings=False)
    return RouteTarget(provider, model)


def _alias(name: str, value: object, where: str) -> ModelAlias:
    section = checked(
        value, where, {"kind", "provider", "model", "fallbacks", "defaults", "settings"}
    )
    target = _target({k: section.get(k) for k in ("provider", "model")}, where, None)
    fallbacks = section.get("fallbacks") or []
    if not isinstance(fallbacks, list):
        raise ConfigurationError(f"{where}.fallbacks must be a list.")
    defaults = typed(section.get("defaults") or {}, f"{where}.defaults", ALIAS_DEFAULTS)
    settings = typed(section.get("settings") or {}, f"{where}.settings", ALIAS_SETTINGS)
    threshold = settings.get("circuit_failure_threshold")
    if threshold is not None and "circuit_window" not in settings:
        settings["circuit_window"] = max(LLMConfig.circuit_window, threshold)
    try:  # the ranges and combinations `LLMService` would refuse at start-up
        LLMConfig(provider=target.provider, model=target.model, **settings)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}.settings: {error}") from None
    return ModelAlias(
        name=name,
        target=target,
        fallbacks=tuple(
            _target(item, f"{where}.fallbacks[{index}]", target.provider)
            for index, item in enumerate(fallbacks)
        ),
        defaults=dict(defaults),
        settings=settings,
    )


def _kind(value: object, where: str) -> AliasKind:
    kind = value.get("kind", AliasKind.MODEL.value) if isinstance(value, dict) else "model"
    if kind not in tuple(AliasKind):
        raise ConfigurationError(
            f"{where}.kind: unknown kind {kind!r}; choose {' or '.join(AliasKind)}."
        )
    return AliasKind(kind)


def _router(
    name: str, value: object, models: Mapping[str, ModelAlias], routers: set[str], where: str
) -> RouterAlias:
    section = checked(value, where, {"kind", "cheap", "capable", "rules"})
    cheap, capable = (
        _router_target(name, role, section.get(role), models, routers, f"{where}.{role}")
        for role in ("cheap", "capable")
    )
    if cheap.target.model == capable.target.model:
        raise ConfigurationError(
            f"{where}: cheap and capable are both {cheap.target.model!r}; a router chooses "
            "between two different models."
        )
    rules = _rules(section.get("rules", "default"), f"{where}.rules")
    return RouterAlias(name=name, cheap=cheap, capable=capable, rules=rules)


def _router_target(
    router: str,
    role: str,
    value: object,
    models: Mapping[str, ModelAlias],
    routers: set[str],
    where: str,
) -> ModelAlias:
    """A router's target: the name of a model alias, or an alias written inline. Targets
    are never routers, so routing cannot loop."""
    if isinstance(value, dict):
        if _kind(value, where) is not AliasKind.MODEL:
            raise ConfigurationError(f"{where}: a router's targets are models, not routers.")
        return _alias(f"{router}.{role}", value, where)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{where} must name a model alias, or give {{provider: ..., model: ...}}."
        )
    if value in models:
        return models[value]
    if value == router:
        raise ConfigurationError(f"{where}: the router {router!r} cannot route to itself.")
    if value in routers:
        raise ConfigurationError(
            f"{where}: {value!r} is a router; a router's targets are model aliases (or "
            "{provider, model}), so that routing cannot loop."
        )
    known = ", ".join(sorted(models)) or "none"
    raise ConfigurationError(
        f"{where}: unknown model alias {value!r}; model aliases: {known} "
        "(or give {provider: ..., model: ...})."
    )


_RULE_VALUES: dict[str, Callable[[object], object]] = {
    "name": lambda v: v if isinstance(v, str) and v.strip() else None,
    "complexity": lambda v: Complexity(str(v)) if v in tuple(Complexity) else None,
    "max_prompt_tokens": lambda v: v if type(v) is int and v >= 0 else None,
    "min_prompt_tokens": lambda v: v if type(v) is int and v >= 0 else None,
    "has_tools": lambda v: v if isinstance(v, bool) else None,
    "categories": lambda v: (
        frozenset(v) if isinstance(v, list) and all(isinstance(c, str) for c in v) else None
    ),
}
_RULE_EXPECTED = {
    "name": "a non-empty string",
    "complexity": " or ".join(Complexity),
    "max_prompt_tokens": "a whole number >= 0",
    "min_prompt_tokens": "a whole number >= 0",
    "has_tools": "true or false",
    "categories": "a list of category names",
}


def _rules(value: object, where: str) -> tuple[RouterRule, ...]:
    """`default` (`ai.routing.DEFAULT_RULES`), `none` (hints only), or a list of rules
    whose options are `RouterRule`'s fields."""
    if value == "default":
        return DEFAULT_RULES
    if value == "none":
        return ()
    if not isinstance(value, list):
        raise ConfigurationError(f"{where} must be default, none, or a list of rules.")
    return tuple(_rule(item, f"{where}[{index}]") for index, item in enumerate(value))


def _rule(value: object, where: str) -> RouterRule:
    section = checked(value, where, {f.name for f in dataclasses.fields(RouterRule)})
    for required in ("name", "complexity"):
        if required not in section:
            raise ConfigurationError(f"{where}.{required} is required.")
    options: dict[str, Any] = {}
    for key, raw in section.items():
        converted = _RULE_VALUES[key](raw)
        if converted is None:
            raise ConfigurationError(f"{where}.{key} must be {_RULE_EXPECTED[key]}.")
        options[key] = converted
    return RouterRule(**options)


def _embedding(name: str, value: object, where: str) -> EmbeddingAlias:
    section = checked(value, where, {"provider", "model", "dimensions"})
    provider = _string(section.get("provider", "openai"), f"{where}.provider")
    dimensions = section.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        raise ConfigurationError(f"{where}.dimensions must be a positive integer.")
    assert provider is not None
    known_provider(provider, f"{where}.provider", embeddings=True)
    return EmbeddingAlias(
        name=name,
        provider=provider,
        model=_string(section.get("model"), f"{where}.model", required=False),
        dimensions=dimensions,
    )


def _team(value: object, where: str) -> BudgetSpec:
    section = checked(value, where, {"budget"})
    budget = section.get("budget")
    if not isinstance(budget, str):
        raise ConfigurationError(f"{where}.budget must read like '100/month'.")
    try:
        return parse_budget(budget)
    except ConfigurationError as error:
        raise ConfigurationError(f"{where}.budget: {error}") from None


def _keys(value: object, where: str) -> KeySettings:
    section = checked(value, where, {"store", "cache_ttl", "secret_file"})
    ttl = section.get("cache_ttl", 10.0)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
        raise ConfigurationError(f"{where}.cache_ttl must be a number of seconds >= 0.")
    return KeySettings(
        store=_string(section.get("store"), f"{where}.store", required=False),
        cache_ttl=float(ttl),
        secret_file=_string(section.get("secret_file"), f"{where}.secret_file", required=False),
    )


def _limits(value: object, where: str) -> LimitSettings:
    section = checked(value, where, {"redis_url", "redis_retry_after"})
    retry = section.get("redis_retry_after", 5.0)
    if isinstance(retry, bool) or not isinstance(retry, int | float) or retry <= 0:
        raise ConfigurationError(f"{where}.redis_retry_after must be a number of seconds > 0.")
    return LimitSettings(
        redis_url=_string(section.get("redis_url"), f"{where}.redis_url", required=False),
        redis_retry_after=float(retry),
    )
