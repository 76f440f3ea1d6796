"""devora-ai's AI layer: LLM client, caching, retrieval and prompts.

Import the part you need (`ai.llm_service`, `ai.cache`, `ai.rag`, `ai.prompts`); this
package imports nothing heavy on its own, so `import ai` stays fast and driver-free.
"""

__version__ = "0.1.0"
