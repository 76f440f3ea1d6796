"""`POST /v1/embeddings` through `EmbeddingService` (an OpenAI-format upstream or a local
model), with the key's labels on every record.

Text inputs only: token-id arrays get a 400 (the gateway cannot know which tokenizer the
upstream model uses). `dimensions`, for models that take it (text-embedding-3), shortens
each vector and normalises it again, which is what OpenAI does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ai.accounting.tokens import count_tokens
from ai.providers.openai_serving import (
    EmbeddingModel,
    embeddings_response,
    not_an_embedding_model,
    parse_embeddings_request,
)
from ml_ops.gateway.access_log import AccessEntry
from ml_ops.gateway.asgi import Receive, Scope, Send, read_json, send_json
from ml_ops.gateway.call_context import CallContext
from ml_ops.gateway.errors import GatewayError
from ml_ops.gateway.state import GatewayState


class Embeddings:
    """The handler (wrapped by `state.endpoint`)."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, entry: AccessEntry, context: CallContext
    ) -> None:
        state = self.state
        key = await state.authenticate(scope)
        entry.key = key
        body = await read_json(receive)
        spec = EmbeddingModel(dimensions=1)
        route = None
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str) and "input" in body:
            entry.model = model
            alias = state.allowed_alias(key, model)
            route = state.catalog.embeddings.get(alias)
            if route is None:
                raise not_an_embedding_model(model)
            spec = await route.model_spec()
        request = parse_embeddings_request(body, lambda _: spec)
        assert route is not None  # parse raised otherwise
        texts = [item for item in request.inputs if isinstance(item, str)]
        if len(texts) != len(request.inputs):
            raise GatewayError(
                "This gateway embeds text inputs only; send strings, not token arrays.",
                status=400,
                param="input",
                code="invalid_value",
            )
        decision = await state.admit(key)
        try:
            matrix = await route.service.embed(texts, user=key.user, agent=key.agent, tags=key.tags)
        finally:
            await state.settle(key, context)
        vectors = _shortened(matrix, request.dimensions)
        tokens = context.input_tokens or sum(count_tokens(t, model or "").tokens for t in texts)
        entry.input_tokens, entry.cost = tokens, context.cost
        answer: dict[str, Any] = embeddings_response(
            request.model, vectors.tolist(), prompt_tokens=tokens, encoding=request.encoding
        )
        headers = {**decision.headers(), "x-request-id": context.ensure_id()}
        await send_json(send, 200, answer, headers)


def _shortened(matrix: np.ndarray[Any, Any], size: int) -> np.ndarray[Any, Any]:
    if size >= matrix.shape[1]:
        return matrix
    cut = matrix[:, :size]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.where(norms == 0, 1, norms)
