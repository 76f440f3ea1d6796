"""The OpenAI API's error answers: one exception type and its JSON body.

Everything that refuses a request raises `OpenAIRequestError` with the fields OpenAI's
error object has (`message`, `type`, `param`, `code`) plus the HTTP status. Whoever serves
the request (the gateway's web layer, the loopback fakes) catches it once and writes
`error.body()` with `error.status`; nothing here knows about HTTP frameworks.

The helpers below build the errors OpenAI sends for the common cases, with its exact
wording, because SDKs and users match on `param` and `code`.
"""

from __future__ import annotations

from typing import Any

from ai.errors import DevoraError

INVALID_REQUEST_ERROR = "invalid_request_error"
"""OpenAI's error `type` for 400s and 404s about the request itself."""


def error_body(
    message: str,
    type: str = INVALID_REQUEST_ERROR,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}`, the body of every OpenAI error
    answer (and of an error event inside a stream)."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class OpenAIRequestError(DevoraError):
    """A request the OpenAI API would refuse, with everything needed to answer it.

    `status` is the HTTP status (400 unless said otherwise), `type` OpenAI's error type,
    `param` the offending parameter's path (`messages[0].role`) and `code` OpenAI's
    machine-readable reason (`missing_required_parameter`), both None when OpenAI sends null.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = INVALID_REQUEST_ERROR,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON object to send with `status`."""
        return error_body(self.message, self.type, self.param, self.code)

    def __repr__(self) -> str:
        return (
            f"OpenAIRequestError({self.message!r}, status={self.status}, type={self.type!r}, "
            f"param={self.param!r}, code={self.code!r})"
        )


def invalid(message: str, param: str | None = None, code: str | None = None) -> OpenAIRequestError:
    """A 400 `invalid_request_error`."""
    return OpenAIRequestError(message, param=param, code=code)


def json_type(value: object) -> str:
    """How OpenAI's messages name a JSON value's type ("a string", "an object")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def missing(param: str) -> OpenAIRequestError:
    """400 for an absent required parameter."""
    return invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def wrong_type(param: str, expected: str, value: object) -> OpenAIRequestError:
    """400 for a parameter of the wrong JSON type; `expected` reads like "an array"."""
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
        param,
        "invalid_type",
    )


def missing_model() -> OpenAIRequestError:
    """400 for a request without `model` (OpenAI's wording has no param or code here)."""
    return invalid("you must provide a model parameter")


def invalid_json() -> OpenAIRequestError:
    """400 for a body that is not a JSON object."""
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
        "but what was sent was not valid JSON.)"
    )


def model_not_found(model: str | None) -> OpenAIRequestError:
    """404 `model_not_found`: the model does not exist or the caller may not use it."""
    return OpenAIRequestError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        code="model_not_found",
    )


def not_a_chat_model() -> OpenAIRequestError:
    """404 for an embedding (or other non-chat) model sent to `/v1/chat/completions`."""
    return OpenAIRequestError(
        "This is not a chat model and thus not supported in the v1/chat/completions "
        "endpoint. Did you mean to use v1/completions?",
        status=404,
        param="model",
    )


def not_an_embedding_model(model: str) -> OpenAIRequestError:
    """400 for a chat model sent to `/v1/embeddings`."""
    return invalid(f"The model `{model}` does not support embeddings.", "model")
