"""`GET /v1/models` and `GET /v1/models/{id}`: the aliases and configured models the
key may use (a model it may not use is "not found", as on OpenAI)."""

from __future__ import annotations

from ai.providers.openai_serving import model_list, model_not_found
from ml_ops.gateway.access_log import AccessEntry
from ml_ops.gateway.asgi import Receive, Scope, Send, send_json
from ml_ops.gateway.call_context import CallContext
from ml_ops.gateway.state import GatewayState


class Models:
    """Both routes; `{id}` is whatever follows `/models/` in the path."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, entry: AccessEntry, context: CallContext
    ) -> None:
        key = await self.state.authenticate(scope)
        entry.key = key
        models = self.state.catalog.model_objects(key)
        wanted = scope.get("path_params", {}).get("model")
        headers = {"x-request-id": context.ensure_id()}
        if wanted is None:
            await send_json(send, 200, model_list(models), headers)
            return
        entry.model = wanted
        for model in models:
            if model["id"] == wanted:
                await send_json(send, 200, model, headers)
                return
        raise model_not_found(wanted)
