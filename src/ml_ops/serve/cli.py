"""`devora serve`: run the gateway and the dashboard under uvicorn.

The admin key comes from `DEVORA_ADMIN_KEY`, or is generated and printed once. With
`--workers N`, uvicorn starts N processes from `factory()`, which reads the settings
this process put in the environment (`DEVORA_SERVE_SETTINGS`) and the same admin key;
they share the store, and with `--redis-url` the cache, limits and budgets.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ai.core.command_line import one_line_errors
from ml_ops.dashboard import DashboardSettings
from ml_ops.gateway.config import load_gateway_config
from ml_ops.runtime import RuntimeSettings
from ml_ops.serve.app import ServeApp, ServeSettings, create_app
from ml_ops.web import admin_key_from_env

SETTINGS_ENV = "DEVORA_SERVE_SETTINGS"
_UVICORN_STARTUP_FAILURE = 3  # uvicorn's exit status when the app's start-up fails


def run_serve(
    *,
    host: str,
    port: int,
    store: str | None,
    experiments: str | None,
    redis_url: str | None,
    config: str | None,
    budgets: str | None,
    workers: int,
) -> None:
    """Serve until Ctrl-C. A configuration mistake ends it first, as one `error:` line
    naming the file and option, before anything says the server is up."""
    import uvicorn

    runtime = RuntimeSettings(
        store=store, experiments=experiments, redis_url=redis_url, budgets_file=budgets
    )
    settings = ServeSettings(
        runtime=runtime, config=config, dashboard=DashboardSettings(host=host, port=port)
    )

    def announce() -> None:
        if generated is not None:
            print(f"Admin key (shown once; set DEVORA_ADMIN_KEY to choose your own): {generated}",
                  file=sys.stderr)  # fmt: skip
        print(f"Dashboard: http://{host}:{port}/   OpenAI-compatible API: http://{host}:{port}/v1",
              file=sys.stderr)  # fmt: skip

    with one_line_errors():
        key, generated = admin_key_from_env()  # a short DEVORA_ADMIN_KEY is one line too
        load_gateway_config(config)  # checked here too when the workers build the app
        app = create_app(settings, admin_key=key, on_ready=announce) if workers == 1 else None
    if generated is not None:
        os.environ["DEVORA_ADMIN_KEY"] = generated  # the workers must share it
    try:
        if app is None:  # workers start on their own: say where before they do
            announce()
            os.environ[SETTINGS_ENV] = json.dumps(_to_json(settings))
            uvicorn.run(
                "ml_ops.serve.cli:factory", factory=True, host=host, port=port, workers=workers,
                log_level="warning",
            )  # fmt: skip
        else:  # said once start-up has succeeded (a store that cannot be reached fails it)
            uvicorn.run(app, host=host, port=port, log_level="warning")
    except SystemExit as exit:
        # uvicorn exits 3 when start-up fails, after logging our error's one line
        raise SystemExit(1 if exit.code == _UVICORN_STARTUP_FAILURE else exit.code) from None


def factory() -> ServeApp:
    """The app of one worker process (uvicorn's `--factory`)."""
    key, generated = admin_key_from_env()
    if generated is not None:
        raise SystemExit("DEVORA_ADMIN_KEY must be set for worker processes")
    data = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
    return create_app(_from_json(data), admin_key=key)


def _to_json(settings: ServeSettings) -> dict[str, Any]:
    runtime = asdict(settings.runtime)
    return {
        "runtime": {k: (str(v) if isinstance(v, Path) else v) for k, v in runtime.items()
                    if k in ("store", "experiments", "redis_url", "budgets_file")},
        "config": None if settings.config is None else str(settings.config),
        "host": settings.dashboard.host,
        "port": settings.dashboard.port,
    }  # fmt: skip


def _from_json(data: dict[str, Any]) -> ServeSettings:
    runtime = RuntimeSettings(**data.get("runtime", {}))
    dashboard = DashboardSettings(
        host=str(data.get("host", "127.0.0.1")), port=int(data.get("port", 8765))
    )
    config = data.get("config")
    return ServeSettings(
        runtime=runtime, config=None if config is None else str(config), dashboard=dashboard
    )


__all__ = ["factory", "run_serve"]
