"""`devora demo` (`make demo`): a one-minute tour of devora-ai through its gateway.

It starts `devora serve` on embedded defaults (SQLite in a temporary folder, the response
cache in memory, local embeddings, no API key) in front of devora's loopback fakes of
OpenAI, Anthropic and OpenRouter (or the real providers, when their keys are set), and
drives a realistic workload through the gateway with the official `openai` SDK: several
users, teams and virtual keys; chat and streams on three aliases; repeated questions the
cache answers; a model router; questions over the project's docs; a prompt experiment
that reaches a decision; a budget that alerts and downgrades; a burst of 429s and 5xx and
an outage that retries, fallbacks, a circuit breaker and an alert absorb. Then a summary
table, and the dashboard keeps serving the tour's data until Ctrl-C.

    async with Tour(TourSettings(duration=60)) as tour:
        summary = await tour.run()

Modules, one job each: `settings` (duration, pace, time line), `cast` (users and their
questions), `models` (aliases), `upstream`, `fake_upstream`, `profile`, `faults` (the
upstream and what it does), `gateway_config`, `prompt_tags`, `server` (the served app),
`accounts` (virtual keys), `experiment`, `docs_index`, `client`, `workload` (the traffic),
`watch`, `events`, `summary`, `tour` and `cli`.
"""

from ai.core import lazy as _lazy
from ml_ops.demo.settings import TourSettings

__all__ = ["Tour", "TourSettings", "TourSummary", "run_tour_command"]

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__,
    __all__,
    {
        "Tour": "ml_ops.demo.tour",
        "TourSummary": "ml_ops.demo.summary",
        "run_tour_command": "ml_ops.demo.cli",
    },
)
