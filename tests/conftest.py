"""Root conftest: keep it small. Service fixtures and the network guard live in a plugin."""

import sys
from pathlib import Path

# Make `tests.*` importable whatever the import mode (prepend, importlib) or invocation.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["tests.service_fixtures"]
