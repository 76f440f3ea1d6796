"""Serving the OpenAI wire format: what an OpenAI-compatible server says and how.

Shared by the loopback fakes (`ai.testing`) and the gateway, so both answer exactly as
api.openai.com does and the official `openai` SDK accepts both. Framework-free on purpose:
requests come in as decoded JSON, answers go out as dicts and bytes, and a refused request
raises `OpenAIRequestError` carrying its status and OpenAI error body. The web layer
(Starlette in the fakes, the gateway's own) only moves bytes.

    parse_chat_request(body)          -> ChatCompletionRequest     POST /v1/chat/completions
    completion_object(meta, choices, usage)                         its JSON answer
    render_chat_stream(...) / ChatChunkEncoder                      its SSE answer
    parse_embeddings_request(body, resolve) -> EmbeddingsRequest    POST /v1/embeddings
    embeddings_response(model, vectors, prompt_tokens=...)          its answer
    model_object(...), model_list(...)                              GET /v1/models[/{id}]
    OpenAIRequestError, error_body(...)                             error answers
    dumps, sse_data, SSE_DONE                                       JSON and SSE framing
"""

from ai.providers.openai_serving.chat_request import ChatCompletionRequest, parse_chat_request
from ai.providers.openai_serving.chat_response import (
    ChoiceOutput,
    CompletionMeta,
    FinishReason,
    ToolCallOutput,
    completion_object,
    usage_object,
)
from ai.providers.openai_serving.chat_stream import (
    ChatChunkEncoder,
    StreamChunk,
    render_chat_stream,
)
from ai.providers.openai_serving.chat_validation import validate_chat_body
from ai.providers.openai_serving.embeddings import (
    EmbeddingEncoding,
    EmbeddingModel,
    EmbeddingsRequest,
    embeddings_response,
    encode_vector,
    parse_embeddings_request,
)
from ai.providers.openai_serving.errors import (
    OpenAIRequestError,
    error_body,
    invalid_json,
    model_not_found,
    not_a_chat_model,
    not_an_embedding_model,
)
from ai.providers.openai_serving.framing import (
    JSON_MEDIA_TYPE,
    SSE_DONE,
    SSE_MEDIA_TYPE,
    dumps,
    sse_data,
)
from ai.providers.openai_serving.models import model_list, model_object

__all__ = [
    "JSON_MEDIA_TYPE",
    "SSE_DONE",
    "SSE_MEDIA_TYPE",
    "ChatChunkEncoder",
    "ChatCompletionRequest",
    "ChoiceOutput",
    "CompletionMeta",
    "EmbeddingEncoding",
    "EmbeddingModel",
    "EmbeddingsRequest",
    "FinishReason",
    "OpenAIRequestError",
    "StreamChunk",
    "ToolCallOutput",
    "completion_object",
    "dumps",
    "embeddings_response",
    "encode_vector",
    "error_body",
    "invalid_json",
    "model_list",
    "model_not_found",
    "model_object",
    "not_a_chat_model",
    "not_an_embedding_model",
    "parse_chat_request",
    "parse_embeddings_request",
    "render_chat_stream",
    "sse_data",
    "usage_object",
    "validate_chat_body",
]
