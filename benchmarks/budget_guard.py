"""What the budget guard adds to each call: `before` (worst-case estimate, reservation)
plus `after` (settle, record kept for the report), measured by calling them directly
on a planned call and its record, with no provider in between.

Cases:

- local: `LocalSpendCounters`, one global `refuse` budget (the target: under 50 µs);
- local, 3 budgets: a global, a user and a model budget covering the same call;
- local + observe: the same, with the tracker also observing the record from the bus
  (what a tracker attached to the service's bus adds on top);
- worst case only: `worst_case_cost` alone (token counting and prices, no cache), for
  scale;
- redis: `RedisSpendCounters` (one Lua round trip each for reserve and settle), on
  `$REDIS_URL` or a private `redis-server` on a free loopback port; beside it, the floor
  of two plain `redis.asyncio` round trips (PING) per call.

Every call has the same system prompt and a user message of its own, so the guard's
token cache serves the system prompt and the user message is tokenized each time.
Each repetition runs `--calls` calls in sequence; the table gives the median per-call
wall-clock time over `--repeat` repetitions, the fastest and slowest repetition, and
the median CPU time per call (`time.process_time`: on a busy machine the wall clock
also counts the time other processes ran), with the load average before and after.

    .venv/bin/python benchmarks/budget_guard.py
    .venv/bin/python benchmarks/budget_guard.py --calls 2000 --repeat 5 --skip-redis
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ai.accounting.pricing import PricingTable
from ai.core.guards import PlannedCall
from ai.core.records import CostSource, Operation, RequestRecord
from ai.core.usage import Usage
from ml_ops.cost_tracker import (
    Budget,
    CostTracker,
    LocalSpendCounters,
    RedisSpendCounters,
    SpendCounters,
    worst_case_cost,
)

SYSTEM = {"role": "system", "content": "You are a concise assistant for a software team."}


def planned_call(number: int) -> PlannedCall:
    """A call with the same system prompt and a user message of its own (never cached)."""
    question = f"Summarise the release notes of version 2.{number} in three bullets."
    return PlannedCall(
        operation=Operation.CHAT, model="gpt-4o-mini", provider="openai",
        inputs=[SYSTEM, {"role": "user", "content": question}],
        parameters={"max_tokens": 256, "temperature": 0.2}, user="alice", agent="docs",
    )  # fmt: skip


def planned_calls(count: int) -> list[PlannedCall]:
    return [planned_call(number) for number in range(count)]


def record_of(call: PlannedCall) -> RequestRecord:
    return RequestRecord(
        request_id=call.request_id, timestamp=datetime.now(UTC), provider="openai",
        model_requested=call.model, model=call.model,
        usage=Usage(input_tokens=40, output_tokens=120), estimated_cost=0.0000780,
        latency_ms=800.0, time_to_first_token_ms=None, attempts=1, success=True,
        cost_source=CostSource.PRICING, user="alice", agent="docs",
    )  # fmt: skip


def make_tracker(counters: SpendCounters | None, budgets: int) -> CostTracker:
    tracker = CostTracker(counters=counters, pricing=PricingTable.default())
    tracker.add_budget(Budget(name="global", limit=1e9, period="daily", action="refuse"))
    if budgets >= 3:
        tracker.add_budget(Budget(name="alice", limit=1e9, scope="user", scope_value="alice"))
        tracker.add_budget(Budget(name="mini", limit=1e9, scope="model", scope_value="gpt-4o-mini"))
    return tracker


Timing = tuple[float, float]
"""Wall-clock and CPU seconds per call."""


async def time_guard(
    counters: Callable[[], SpendCounters | None], budgets: int, calls: int, observe: bool
) -> Timing:
    """Seconds per call of before + after (+ observe) over `calls` sequential calls."""
    tracker = make_tracker(counters(), budgets)
    guard = tracker.guard()
    warm = planned_calls(50)
    for call in warm:  # prices, encodings and counters warmed up
        await guard.before(call)
        await guard.after(call, record_of(call))
    todo = planned_calls(calls)
    records = [record_of(call) for call in todo]
    started, cpu = time.perf_counter(), time.process_time()
    for call, record in zip(todo, records, strict=True):
        await guard.before(call)
        if observe:
            tracker.observe(record)
        await guard.after(call, record)
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    await tracker.aclose()
    return elapsed / calls, used / calls


async def time_worst_case(calls: int) -> Timing:
    pricing = PricingTable.default()
    todo = planned_calls(calls)
    worst_case_cost(todo[0], pricing)
    started, cpu = time.perf_counter(), time.process_time()
    for call in todo:
        worst_case_cost(call, pricing)
    return (time.perf_counter() - started) / calls, (time.process_time() - cpu) / calls


async def time_two_pings(url: str, calls: int) -> Timing:
    """The floor of the Redis case: two plain round trips per call (redis.asyncio PING)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    await client.ping()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await client.ping()
        await client.ping()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    await client.aclose()
    return elapsed / calls, used / calls


def repeat(runs: int, measure: Callable[[], Awaitable[Timing]]) -> list[Timing]:
    return [asyncio.run(measure()) for _ in range(runs)]


def line(name: str, timings: list[Timing]) -> str:
    wall = sorted(t[0] * 1e6 for t in timings)
    cpu = statistics.median(t[1] * 1e6 for t in timings)
    return (
        f"| {name} | {statistics.median(wall):.1f} | {wall[0]:.1f} | {wall[-1]:.1f} | {cpu:.1f} |"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """`$REDIS_URL`, or a private redis-server for the duration of the block."""
    external = os.environ.get("REDIS_URL", "").strip()
    if external:
        yield external
        return
    binary = os.environ.get("REDIS_SERVER_BIN") or shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server on PATH and REDIS_URL is not set")
    directory = Path(tempfile.mkdtemp(prefix="devora-bench-redis-"))
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", str(directory)]  # fmt: skip
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per repetition")
    parser.add_argument("--repeat", type=int, default=9, help="repetitions")
    parser.add_argument("--redis-calls", type=int, default=1000, help="calls per Redis run")
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"# budget guard overhead ({platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"{args.calls:,} sequential calls per repetition, {args.repeat} repetitions; "
          "µs per call (before + after)\n")  # fmt: skip
    print("| case | median µs | fastest | slowest | CPU µs (median) |")
    print("|---|---|---|---|---|")
    local = LocalSpendCounters

    def run(counters: Callable[[], SpendCounters | None], budgets: int, observe: bool,
            calls: int) -> list[Timing]:  # fmt: skip
        return repeat(args.repeat, lambda: time_guard(counters, budgets, calls, observe))

    print(line("local, 1 budget", run(local, 1, False, args.calls)))
    print(line("local, 3 budgets", run(local, 3, False, args.calls)))
    print(line("local, 1 budget + observe", run(local, 1, True, args.calls)))
    print(line("worst case only", repeat(args.repeat, lambda: time_worst_case(args.calls))))
    if not args.skip_redis:
        with redis_url() as url:
            prefix = f"devora-bench:{uuid.uuid4().hex[:8]}:"

            def shared() -> SpendCounters:
                return RedisSpendCounters(url, prefix=prefix)

            print(line("redis, 1 budget", run(shared, 1, False, args.redis_calls)))
            print(line("redis, 3 budgets", run(shared, 3, False, args.redis_calls)))
            pings = repeat(args.repeat, lambda: time_two_pings(url, args.redis_calls))
            print(line("redis floor: 2 plain PINGs", pings))
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
          f"(1 min), {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
