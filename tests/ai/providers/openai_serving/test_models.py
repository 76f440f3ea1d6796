"""Model objects and listings, as the SDK's types and client read them."""

from __future__ import annotations

from openai.types import Model

from ai.providers.openai_serving import model_list, model_object
from tests.ai.providers.openai_serving.sdk_answers import json_answer, sdk_client


def test_a_model_object_validates() -> None:
    body = model_object("gpt-4o-mini", created=1_715_367_049)
    assert body == {
        "id": "gpt-4o-mini",
        "object": "model",
        "created": 1_715_367_049,
        "owned_by": "system",
    }
    assert Model.model_validate(body).id == "gpt-4o-mini"
    assert model_object("mine", created=1, owned_by="devora")["owned_by"] == "devora"


def test_the_sdk_lists_and_retrieves() -> None:
    listing = model_list(model_object(m, created=1) for m in ["a", "b"])
    assert listing["object"] == "list"
    with sdk_client(json_answer(listing)) as client:
        assert [model.id for model in client.models.list()] == ["a", "b"]
    with sdk_client(json_answer(model_object("a", created=1))) as client:
        assert client.models.retrieve("a").created == 1
