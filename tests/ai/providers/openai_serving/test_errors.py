"""OpenAI error bodies and the `OpenAIRequestError` that carries them, read back by the SDK."""

from __future__ import annotations

import openai
import pytest

from ai.errors import DevoraError
from ai.providers.openai_serving import (
    OpenAIRequestError,
    error_body,
    invalid_json,
    model_not_found,
    not_a_chat_model,
    not_an_embedding_model,
)
from ai.providers.openai_serving.errors import json_type, missing, wrong_type
from tests.ai.providers.openai_serving.sdk_answers import json_answer, sdk_client


def test_error_body_has_openai_fields_in_order() -> None:
    body = error_body("bad", param="messages", code="invalid_value")
    assert list(body) == ["error"]
    assert list(body["error"]) == ["message", "type", "param", "code"]
    assert body == {
        "error": {
            "message": "bad",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "invalid_value",
        }
    }


def test_request_error_defaults_to_a_400_invalid_request() -> None:
    error = OpenAIRequestError("nope")
    assert isinstance(error, DevoraError)
    assert (error.status, error.type, error.param, error.code) == (
        400,
        "invalid_request_error",
        None,
        None,
    )
    assert str(error) == "nope"
    assert error.body() == error_body("nope")
    assert "status=400" in repr(error)


@pytest.mark.parametrize(
    ("error", "status", "param", "code"),
    [
        (missing("messages"), 400, "messages", "missing_required_parameter"),
        (wrong_type("n", "an integer", "x"), 400, "n", "invalid_type"),
        (invalid_json(), 400, None, None),
        (model_not_found("gpt-9"), 404, None, "model_not_found"),
        (not_a_chat_model(), 404, "model", None),
        (not_an_embedding_model("gpt-4o"), 400, "model", None),
    ],
)
def test_helpers_build_the_real_api_answers(
    error: OpenAIRequestError, status: int, param: str | None, code: str | None
) -> None:
    assert (error.status, error.param, error.code) == (status, param, code)
    assert error.type == "invalid_request_error"


def test_messages_use_openai_wording() -> None:
    assert str(missing("messages")) == "Missing required parameter: 'messages'."
    assert str(wrong_type("stream", "a boolean", 1)) == (
        "Invalid type for 'stream': expected a boolean, but got an integer instead."
    )
    assert str(model_not_found("gpt-9")) == (
        "The model `gpt-9` does not exist or you do not have access to it."
    )


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "a boolean"),
        (3, "an integer"),
        (1.5, "a decimal"),
        ("x", "a string"),
        ([], "an array"),
        ({}, "an object"),
    ],
)
def test_json_type_names(value: object, name: str) -> None:
    assert json_type(value) == name


@pytest.mark.parametrize(
    ("error", "exception"),
    [
        (missing("messages"), openai.BadRequestError),
        (model_not_found("gpt-9"), openai.NotFoundError),
    ],
)
def test_the_sdk_reads_param_code_and_message(
    error: OpenAIRequestError, exception: type[openai.APIStatusError]
) -> None:
    with (
        sdk_client(json_answer(error.body(), error.status)) as client,
        pytest.raises(exception) as caught,
    ):
        client.chat.completions.create(model="gpt-9", messages=[])
    assert caught.value.status_code == error.status
    assert caught.value.code == error.code
    assert caught.value.param == error.param
    assert caught.value.type == error.type
    assert error.message in caught.value.message
