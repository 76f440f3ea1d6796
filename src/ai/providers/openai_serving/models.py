"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's model objects and listing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def model_object(model_id: str, *, created: int, owned_by: str = "system") -> dict[str, Any]:
    """`{"id", "object": "model", "created", "owned_by"}`; `created` is epoch seconds."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_list(models: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`{"object": "list", "data": [...]}` around model objects (see `model_object`)."""
    return {"object": "list", "data": [dict(model) for model in models]}
