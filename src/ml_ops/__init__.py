"""devora-ai's ML operations layer: monitoring, cost tracking, A/B testing and dashboard.

Its modules subscribe to the `RequestRecord`s that `ai.llm_service.LLMService` emits.
"""

__version__ = "0.1.0"
