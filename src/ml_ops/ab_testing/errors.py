"""The errors of A/B testing, both in `ai.errors.DevoraError`'s tree.

    DevoraError
    ├── ConfigurationError
    │   └── ExperimentNotFoundError   no experiment (or variant) by that name
    └── ExperimentStateError          the experiment's state does not allow that
                                      (starting a completed experiment, tracking a draft)

Invalid definitions (weights, names, metrics) are plain `ConfigurationError`s; store
failures are `StoreError`s.
"""

from __future__ import annotations

from ai.errors import ConfigurationError, DevoraError


class ExperimentStateError(DevoraError):
    """The experiment is in a state that does not allow the operation; the message names
    the state, the operation, and what is allowed from there."""


class ExperimentNotFoundError(ConfigurationError, LookupError):
    """No experiment (or no variant of it) by that name; the message lists what exists."""


__all__ = ["ExperimentNotFoundError", "ExperimentStateError"]
