"""The parts of ml_ops one process runs together, wired once: a shared record bus, the
event store and its writer, the monitor, cost tracking and experiments.

The dashboard reads them, the gateway calls through them; tests and scripts can open one
too (`async with Runtime.open(...) as runtime:`).
"""

from ml_ops.runtime.runtime import Runtime, RuntimeSettings

__all__ = ["Runtime", "RuntimeSettings"]
