"""A/B testing: `ABTester`, `Experiment` and `Variant`, sticky assignment, statistics from
per-variant summaries, a guard that routes calls to variants, and the
`ai.prompts.experiments.PromptExperiments` backend for template versions."""

__all__: list[str] = []
