"""The dashboard: `DashboardManager` (read-only views over monitoring, costs, experiments
and health) and the web app served by `devora serve`."""

__all__: list[str] = []
