"""devora-ai's AI layer: LLM client, caching, retrieval and prompts.

Import the part you need (`ai.llm_service`, `ai.cache`, `ai.rag`, `ai.prompts`); this
package imports nothing heavy on its own, so `import ai` stays fast and driver-free.

Layout, bottom to top (each layer imports only from those below it; checked by
import-linter in the test command):

    ai.errors, ai.core          the error tree; clock, usage, RequestRecord and its bus, guards
    ai.providers, ai.accounting, ai.db
                                wire formats and hosts; tokens and prices; database plumbing
    ai.cache                    response cache
    ai.calls                    retries, breakers, fallbacks, deadline, stats, streaming
    ai.llm_service, ai.rag, ai.prompts
                                the public services
    ai.cli, ai.example_usage    the `devora` command and the walk-through
    ai.testing                  loopback fakes (never imported by product code)
"""

from ai import _moved

__version__ = "0.2.0"

__all__: list[str] = []

_moved.install()
