"""Cost tracking: `CostTracker` and `Budget` (daily, weekly, monthly; global, model,
provider, agent or user scope), a budget guard that reserves before a call and settles
after it, forecasts, recommendations and export."""

__all__: list[str] = []
