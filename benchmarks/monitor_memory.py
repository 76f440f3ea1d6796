"""The monitor's memory over a simulated day: where it grows and where it stops.

`MLMonitor` is fed records on a `FakeClock` (`--rate` records per simulated second, six
models, 200 users, lognormal latencies) and `tracemalloc` measures what it holds after
every simulated interval; strings included, which `gc.get_objects()` does not see. Two
things fill up and then stop: the de-duplication memory (the last `dedup_capacity`
request ids, 100,000 by default) and the windows' rings (the 24 h window's 24 hourly
slots). The gateway's RSS in `benchmarks/gateway.py --memory-only` follows the first.

    python benchmarks/monitor_memory.py                      # 10/s over 27 simulated hours
    python benchmarks/monitor_memory.py --rate 100 --hours 0.5 --every 0.05
"""

from __future__ import annotations

import argparse
import os
import random
import time
import tracemalloc

from ai.core.clock import FakeClock
from ml_ops import MLMonitor

MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5", "o4-mini", "local")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=10.0, help="records per simulated s")
    parser.add_argument("--hours", type=float, default=27.0, help="simulated hours")
    parser.add_argument("--every", type=float, default=3.0, help="simulated hours a line")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    clock = FakeClock()
    rng = random.Random(args.seed)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    monitor = MLMonitor(clock=clock)
    step = 1.0 / args.rate
    per_line = round(args.every * 3600 * args.rate)
    lines = round(args.hours / args.every)
    started = time.perf_counter()
    for line in range(1, lines + 1):
        for _ in range(per_line):
            clock.advance(step)
            _track(monitor, rng)
        held = (tracemalloc.get_traced_memory()[0] - base) / 2**20
        footprint = monitor.footprint()
        print(
            f"{line * args.every:6.2f} h, {line * per_line:>9,} records: {held:6.1f} MiB held; "
            f"{footprint['slots']} slots, {footprint['groups']:,} groups, "
            f"{footprint['sketch_bins']:,} sketch bins, "
            f"{footprint['tracked_request_ids']:,} request ids "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


def _track(monitor: MLMonitor, rng: random.Random) -> None:
    success = rng.random() > 0.02
    monitor.track_request(
        success,
        rng.lognormvariate(6.5, 0.8),
        cost=0.001,
        model=rng.choice(MODELS),
        user=f"user-{rng.randrange(200)}",
        input_tokens=300,
        output_tokens=200,
        error_type=None if success else "rate_limit",
    )


if __name__ == "__main__":
    main()
