"""A/B testing of prompts, templates, models and parameters, with statistics that hold up
under peeking.

    from ml_ops.ab_testing import ABTester, Experiment, Variant

    ab_tester = ABTester()                                   # .devora/experiments.db
    ab_tester.create_experiment(Experiment(
        name="prompt_test",
        variants=[Variant(name="concise", prompt_template="Generate {task}"),
                  Variant(name="detailed", prompt_template="Create a detailed {task}")],
        primary_metric="success_rate",
    ))
    ab_tester.start_experiment("prompt_test")
    variant = ab_tester.get_variant("prompt_test", unit_id=user_id)
    text, stats = await llm.complete(**variant.call_arguments(task="a parser"))
    ab_tester.get_experiment_summary("prompt_test")

- `Experiment` / `Variant`: what is compared (prompt text, a template version or label, a
  model, call parameters) and how it is judged (primary metric, mode, alpha, power,
  minimum detectable effect, CUPED covariate, auto-complete, fixed or bandit allocation).
- `ABTester`: the lifecycle as a state machine (draft, running, paused, completed,
  stopped; `ExperimentStateError` otherwise), sticky hash assignment over a 10,000-bucket
  map (`BucketMap`: weight changes move the fewest units), results from `track_result` or
  from tagged `RequestRecord`s on a bus, summaries and decisions from the statistics
  engine (`ml_ops.ab_testing.statistics`). It is an `ai.prompts.PromptExperiments`, so
  `TemplateManager(experiments=ab_tester)` routes template versions through it.
- `ExperimentGuard` (`ab_tester.guard()`): routes calls of model and parameter experiments
  inside `LLMService`; `apply` renders a template variant into `complete` arguments.
- Stores: SQLite (default), PostgreSQL (shared by a deployment), memory; see `stores`.

docs/ab-testing.md explains every rule and statistic.
"""

import typing as _typing

from ai.core import lazy as _lazy
from ml_ops.ab_testing.apply import apply
from ml_ops.ab_testing.buckets import BUCKETS, BucketMap, bucket_of
from ml_ops.ab_testing.errors import ExperimentNotFoundError, ExperimentStateError
from ml_ops.ab_testing.experiment import Allocation, Experiment
from ml_ops.ab_testing.guard import ExperimentGuard
from ml_ops.ab_testing.state import ExperimentState, ExperimentStatus, Period, Transition
from ml_ops.ab_testing.statistics import AnalysisMode, Direction, EffectScale
from ml_ops.ab_testing.stores import (
    ExperimentStore,
    MemoryExperimentStore,
    SQLiteExperimentStore,
    open_experiment_store,
)
from ml_ops.ab_testing.tester import ABTester
from ml_ops.ab_testing.variant import Variant

if _typing.TYPE_CHECKING:
    from ml_ops.ab_testing.stores.postgres import PostgresExperimentStore

__all__ = [
    "BUCKETS",
    "ABTester",
    "Allocation",
    "AnalysisMode",
    "BucketMap",
    "Direction",
    "EffectScale",
    "Experiment",
    "ExperimentGuard",
    "ExperimentNotFoundError",
    "ExperimentState",
    "ExperimentStateError",
    "ExperimentStatus",
    "ExperimentStore",
    "MemoryExperimentStore",
    "Period",
    "PostgresExperimentStore",
    "SQLiteExperimentStore",
    "Transition",
    "Variant",
    "apply",
    "bucket_of",
    "open_experiment_store",
]

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"PostgresExperimentStore": "ml_ops.ab_testing.stores.postgres"}
)
