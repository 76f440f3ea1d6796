"""`devora serve`: the dashboard and the gateway in one Starlette app under uvicorn,
over one runtime (`ml_ops.runtime`)."""

from ml_ops.serve.app import ServeApp, ServeSettings, create_app

__all__ = ["ServeApp", "ServeSettings", "create_app"]
