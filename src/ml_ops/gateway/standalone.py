"""The gateway on its own, configured from the environment, for uvicorn:

    uvicorn --factory ml_ops.gateway.standalone:app_from_env --workers 2

`DEVORA_CONFIG` (devora.yaml), `DEVORA_EVENT_STORE` / `POSTGRES_CONNECTION_STRING` (where
records and keys live), `DEVORA_EXPERIMENTS_STORE`, `REDIS_URL` (shared limits, budgets and
cache), `DEVORA_ADMIN_KEY` (the
admin endpoints; off when unset, since each worker would otherwise invent its own), and
`DEVORA_ACCESS_LOG` (a file for the access log's JSON lines, `-` for standard error) and
`DEVORA_RESPONSE_CACHE=off` (no response cache).
"""

from __future__ import annotations

import logging
import os
import sys

from starlette.applications import Starlette

from ml_ops.gateway.access_log import ACCESS_LOGGER
from ml_ops.gateway.app import create_app
from ml_ops.runtime import RuntimeSettings
from ml_ops.web import admin_key_from_env


def app_from_env() -> Starlette:
    """`create_app` with the settings named in the module docstring."""
    admin_key = admin_key_from_env()[0] if os.environ.get("DEVORA_ADMIN_KEY") else None
    target = os.environ.get("DEVORA_ACCESS_LOG")
    if target:
        handler = (
            logging.StreamHandler(sys.stderr) if target == "-" else logging.FileHandler(target)
        )
        logger = logging.getLogger(ACCESS_LOGGER)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    cache = os.environ.get("DEVORA_RESPONSE_CACHE", "on").strip().lower() != "off"
    return create_app(runtime_settings=RuntimeSettings(cache=cache), admin_key=admin_key)
