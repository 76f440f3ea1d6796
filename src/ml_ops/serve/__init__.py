"""`devora serve`: the dashboard and the gateway in one Starlette app under uvicorn,
over one runtime (`ml_ops.runtime`)."""

__all__: list[str] = []
