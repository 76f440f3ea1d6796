"""The gateway: OpenAI-compatible endpoints in front of `LLMService` and
`EmbeddingService`, with virtual keys, per-key budgets and rate limits (all as guards)."""

__all__: list[str] = []
