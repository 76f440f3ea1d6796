"""What the fake upstream does wrong, and when: the tour's fault schedule.

Three layers, as `benchmarks/replay.py` injects them:

* background noise all along: about 1% of provider requests get a 429 and 0.6% a 500,
  the failure rates BurstGPT's trace shows for a real service;
* a burst (`TIMELINE.burst`): 15% of requests get a 429 with a short Retry-After and
  8% a 502, on every model: enough for retries and the odd fallback, not enough to open
  a breaker (it opens at half of the last 20 attempts, or on four failures in a row
  beyond the attempts running) and leave a user without answer;
* an outage (`TIMELINE.outage`): every request to gpt-4o gets a 503, so `smart` retries,
  its circuit breaker opens, its calls go to the fallback and the failover alert fires;
  after the window the breaker's trial call succeeds, it closes, the alert resolves.

Windows are seconds after the rules are posted (the start of traffic), stretched or
compressed with the tour (`TourSettings.at`); so are the Retry-After values.
"""

from __future__ import annotations

from typing import Any

from ml_ops.demo.settings import TIMELINE, TourSettings

BACKGROUND_RATE_LIMITS = 0.010
BACKGROUND_SERVER_ERRORS = 0.006
BURST_RATE_LIMITS = 0.15
BURST_SERVER_ERRORS = 0.08
OUTAGE_MODEL = "gpt-4o"


def fault_rules(settings: TourSettings) -> list[dict[str, Any]]:
    """The `POST /_fake/faults` bodies, in order (the first rule due on a request wins,
    so the outage comes first: during it gpt-4o fails with a 503, never a 429)."""
    seed = settings.seed
    retry_after = round(max(0.05, settings.pace), 3)
    outage = TIMELINE.outage
    burst = TIMELINE.burst
    return [
        {
            "kind": "server_error",
            "status": 503,
            "model": OUTAGE_MODEL,
            "times": None,
            "after": settings.at(outage.start),
            "until": settings.at(outage.end),
        },
        {
            "kind": "rate_limit",
            "retry_after": retry_after,
            "times": None,
            "rate": BURST_RATE_LIMITS,
            "seed": seed,
            "after": settings.at(burst.start),
            "until": settings.at(burst.end),
        },
        {
            "kind": "server_error",
            "status": 502,
            "times": None,
            "rate": BURST_SERVER_ERRORS,
            "seed": seed + 1,
            "after": settings.at(burst.start),
            "until": settings.at(burst.end),
        },
        {
            "kind": "rate_limit",
            "retry_after": retry_after,
            "times": None,
            "rate": BACKGROUND_RATE_LIMITS,
            "seed": seed + 2,
        },
        {
            "kind": "server_error",
            "status": 500,
            "times": None,
            "rate": BACKGROUND_SERVER_ERRORS,
            "seed": seed + 3,
        },
    ]


__all__ = ["OUTAGE_MODEL", "fault_rules"]
