"""Router aliases (`kind: router` in `devora.yaml`): one model name that sends each request
to a cheap or a capable alias, decided by `ai.routing.ModelRouter`.

The decision is made before a service is chosen, with `ModelRouter.decide` (the client's
`x-devora-complexity` header as the `complexity` hint, then the alias's rules), so the
request then runs in the chosen alias's own `LLMService`: its fallbacks, retries and
circuit breakers apply. Inside that service `RouteApplier`, its first guard, rewrites the
call from the router's name to the target's model and adds the decision's tags (`route`,
and `routed_from` when the cheap model was chosen), so the record carries the same guard
decision and tags as a call routed by `ModelRouter` as a guard, and
`ai.routing.routing_savings` prices gateway traffic too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import TagKey
from ai.routing import Complexity, ModelRouter
from ml_ops.gateway.asgi import Scope, header
from ml_ops.gateway.call_context import CURRENT
from ml_ops.gateway.config import RouterAlias
from ml_ops.gateway.errors import GatewayError

if TYPE_CHECKING:
    from ml_ops.gateway.routing import ChatRoute

COMPLEXITY_HEADER = "x-devora-complexity"
ROUTE_HEADER = "x-devora-route"
ROUTER_GUARD = "router"


@dataclass(frozen=True, slots=True)
class RoutedCall:
    """A router alias's decision for one request: the call asking for `alias` becomes a
    call of `model` with `tags` added."""

    alias: str
    model: str
    tags: Mapping[str, str]

    @property
    def route(self) -> str:
        """The `route` tag, e.g. "simple:rule:short_prompt"."""
        return self.tags[TagKey.ROUTE.value]


class AliasRouter:
    """One router alias: its targets' routes and the `ModelRouter` that chooses."""

    def __init__(self, alias: RouterAlias, cheap: ChatRoute, capable: ChatRoute) -> None:
        self.alias = alias
        self.cheap = cheap
        self.capable = capable
        self.router = ModelRouter(
            cheap=cheap.alias.target.model,
            capable=capable.alias.target.model,
            aliases=(alias.name,),
            rules=alias.rules,
            name=ROUTER_GUARD,
        )

    @property
    def name(self) -> str:
        return self.alias.name

    async def choose(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Any],
        tags: Mapping[str, str],
    ) -> tuple[ChatRoute, RoutedCall]:
        """The route that answers, and the decision `RouteApplier` applies to the call."""
        parameters = {"tools": list(tools)} if tools else {}
        decision = await self.router.decide(messages, parameters, tags)
        target = self.cheap if decision.model == self.router.cheap else self.capable
        return target, RoutedCall(self.name, decision.model, self.router.route_tags(decision))


class RouteApplier(PassThroughGuard):
    """The first guard of every chat service behind a router alias (module docstring):
    applies the request's `RoutedCall`; any other call passes untouched."""

    name = ROUTER_GUARD

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        context = CURRENT.get()
        routed = context.routed if context is not None else None
        if routed is None or call.model != routed.alias:
            return None
        return call.replace(model=routed.model, tags={**call.tags, **routed.tags})


def complexity_hint(scope: Scope) -> str | None:
    """The `x-devora-complexity` header ("simple" or "complex"), None when absent."""
    value = header(scope, COMPLEXITY_HEADER.encode())
    if value is None:
        return None
    hint = value.strip().lower()
    if hint not in tuple(Complexity):
        raise GatewayError(
            f"The {COMPLEXITY_HEADER} header must be simple or complex, got {value!r}.",
            status=400,
            code="invalid_header",
        )
    return hint
