"""Model listings: `GET /v1/models` (OpenAI or Anthropic, told apart by the
`anthropic-version`/`x-api-key` headers, since both use that path), `GET /v1/models/{id}`,
and OpenRouter's `GET /api/v1/models` with per-token prices as strings. OpenAI's model
objects are rendered by `ai.providers.openai_serving`, as the gateway renders them."""

from __future__ import annotations

from typing import Any

from ai.providers.openai_serving import model_list, model_object
from ai.testing.api_errors import Dialect
from ai.testing.catalogue import Api, ModelCatalogue, openrouter_price
from ai.testing.wire import JsonReply

_CREATED = 1_715_367_049  # a fixed epoch second, so listings are byte-for-byte stable
_CREATED_AT = "2024-10-22T00:00:00Z"


def _openai_model(model: str) -> dict[str, Any]:
    return model_object(model, created=_CREATED)


def _anthropic_model(model: str) -> dict[str, Any]:
    display = model.replace("-", " ").title()
    return {"type": "model", "id": model, "display_name": display, "created_at": _CREATED_AT}


def _openrouter_model(model: str) -> dict[str, Any]:
    prompt, completion = openrouter_price(model)
    return {
        "id": model,
        "canonical_slug": model,
        "name": model,
        "created": _CREATED,
        "description": f"{model} served by the devora fake.",
        "context_length": 128_000,
        "pricing": {
            "prompt": f"{prompt / 1_000_000:.10f}".rstrip("0"),
            "completion": f"{completion / 1_000_000:.10f}".rstrip("0"),
        },
    }


def list_models(api: Api, catalogue: ModelCatalogue) -> JsonReply:
    """The listing in `api`'s format."""
    models = catalogue.listed(api)
    if api is Api.ANTHROPIC:
        data = [_anthropic_model(m) for m in models]
        return JsonReply(
            {
                "data": data,
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        )
    if api is Api.OPENROUTER:
        return JsonReply({"data": [_openrouter_model(m) for m in models]})
    return JsonReply(model_list(_openai_model(m) for m in models))


def retrieve_model(api: Api, model: str, catalogue: ModelCatalogue, dialect: Dialect) -> JsonReply:
    """One model in `api`'s format; raises the dialect's 404 when it is not served."""
    if not catalogue.lists(api, model):
        raise dialect.unknown_model(model)
    if api is Api.ANTHROPIC:
        return JsonReply(_anthropic_model(model))
    return JsonReply(_openai_model(model))
