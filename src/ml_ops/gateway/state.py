"""What every `/v1` endpoint shares: the catalog, the key ring, the rate limiter and the
access log, plus the steps every request takes (authenticate, resolve the model, admit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ai.providers.openai_serving import model_not_found
from ml_ops.gateway.access_log import AccessEntry, AccessLog
from ml_ops.gateway.asgi import ClientGone, Message, Receive, Scope, Send, header, send_json
from ml_ops.gateway.call_context import CURRENT, CallContext
from ml_ops.gateway.config import CacheScope
from ml_ops.gateway.errors import (
    GatewayError,
    error_for,
    method_not_allowed,
    model_not_allowed,
    retry_after_header,
)
from ml_ops.gateway.key_ring import KeyRing, bearer_token
from ml_ops.gateway.keys import VirtualKey
from ml_ops.gateway.rate_limit import RateDecision, SharedRateLimiter
from ml_ops.gateway.routing import ModelCatalog

Handler = Callable[[Scope, Receive, Send, AccessEntry, CallContext], Awaitable[None]]


@dataclass(slots=True)
class GatewayState:
    """The parts one gateway process runs with (built by `ml_ops.gateway.app`)."""

    catalog: ModelCatalog
    keys: KeyRing
    limiter: SharedRateLimiter
    access_log: AccessLog
    cache_scope: CacheScope = CacheScope.SHARED

    def cache_namespace(self, key: VirtualKey) -> str:
        """The response-cache namespace of `key`'s calls (`gateway.cache.scope`): "" for
        the shared one, else its team's or its own, so no other team reads its answers."""
        if self.cache_scope is CacheScope.SHARED:
            return ""
        if self.cache_scope is CacheScope.TEAM and key.team:
            return f"team:{key.team}"
        return f"key:{key.id}"

    async def authenticate(self, scope: Scope) -> VirtualKey:
        return await self.keys.authenticate(bearer_token(header(scope, b"authorization")))

    def allowed_alias(self, key: VirtualKey, model: str) -> str:
        """The alias `model` stands for, if it exists (404) and `key` may use it (403)."""
        alias = self.catalog.alias_of(model)
        if alias is None:
            raise model_not_found(model)
        if not key.allows(alias):
            raise model_not_allowed(model, key.models)
        return alias

    async def admit(self, key: VirtualKey) -> RateDecision:
        """Take one request from the key's buckets, or raise the 429."""
        decision = await self.limiter.admit(key.id, key.rpm, key.tpm)
        if not decision.allowed:
            raise rate_limited(key, decision)
        return decision

    async def settle(self, key: VirtualKey, context: CallContext) -> None:
        """Charge the tokens the request used to the key's tokens-per-minute bucket."""
        used = context.input_tokens + context.output_tokens
        if key.tpm and used:
            await self.limiter.charge(key.id, key.tpm, used)


def rate_limited(key: VirtualKey, decision: RateDecision) -> GatewayError:
    """OpenAI's 429 for a full bucket, with `Retry-After` and the x-ratelimit-* headers."""
    kind = decision.refused.value if decision.refused else "requests"
    limit = key.rpm if kind == "requests" else key.tpm
    unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
    headers = decision.headers()
    headers["retry-after"] = retry_after_header(decision.retry_after)
    return GatewayError(
        f"Rate limit reached for key {key.id} on {unit}: Limit {limit}. Please try again in "
        f"{decision.retry_after:.3g}s.",
        status=429,
        type=kind,
        code="rate_limit_exceeded",
        headers=headers,
    )


def endpoint(state: GatewayState, method: str, handler: Handler) -> Callable[..., Awaitable[None]]:
    """An ASGI app around `handler`: the access entry, the call context, and one place
    where every failure becomes OpenAI's error JSON (if no answer has started yet)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        entry = AccessEntry(method, scope["path"], "")
        context = CallContext()
        token = CURRENT.set(context)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                entry.status = message["status"]
            await send(message)

        try:
            if scope["method"] != method:
                raise method_not_allowed(scope["method"], scope["path"])
            await handler(scope, receive, tracked, entry, context)
        except ClientGone:
            entry.status, entry.outcome = 499, "cancelled"
        except Exception as raised:
            error = error_for(raised, context.ensure_id(), alias=entry.model or None)
            entry.error = error.message
            if not started:
                headers = {"x-request-id": context.request_id, **error.headers}
                await send_json(tracked, error.status, error.body(), headers)
        finally:
            CURRENT.reset(token)
            entry.request_id = context.ensure_id()
            if entry.input_tokens is None and context.record is not None:
                entry.input_tokens = context.input_tokens
                entry.output_tokens = context.output_tokens
                entry.cost = context.cost
                entry.outcome = entry.outcome or context.record.outcome.value
            state.access_log.write(entry)

    return app
