"""The gateway: OpenAI-compatible endpoints in front of `LLMService` and
`EmbeddingService`, with virtual keys, per-key budgets and rate limits.

    gateway = create_gateway_app(load_gateway_config("devora.yaml"), runtime=runtime,
                                 admin_key=admin_key)     # routes for `devora serve`
    app = create_app()                                    # or standalone (uvicorn)

See docs/gateway.md. Needs the `server` extra (Starlette, uvicorn); Redis (the `redis`
extra) to share limits and budgets between processes.
"""

from ml_ops.gateway.app import Gateway, create_app, create_gateway_app
from ml_ops.gateway.config import (
    EmbeddingAlias,
    GatewayConfig,
    ModelAlias,
    ProviderSettings,
    RouterAlias,
    RouteTarget,
    load_gateway_config,
    parse_gateway_config,
)
from ml_ops.gateway.key_manager import KeyManager
from ml_ops.gateway.key_store import KeyStore, PostgresKeyStore, SQLiteKeyStore, open_key_store
from ml_ops.gateway.keys import BudgetSpec, KeyHasher, KeyRequest, VirtualKey, load_secret
from ml_ops.gateway.rate_limit import LocalRateLimiter, RateDecision, RedisRateLimiter

__all__ = [
    "BudgetSpec",
    "EmbeddingAlias",
    "Gateway",
    "GatewayConfig",
    "KeyHasher",
    "KeyManager",
    "KeyRequest",
    "KeyStore",
    "LocalRateLimiter",
    "ModelAlias",
    "PostgresKeyStore",
    "ProviderSettings",
    "RateDecision",
    "RedisRateLimiter",
    "RouteTarget",
    "RouterAlias",
    "SQLiteKeyStore",
    "VirtualKey",
    "create_app",
    "create_gateway_app",
    "load_gateway_config",
    "load_secret",
    "open_key_store",
    "parse_gateway_config",
]
