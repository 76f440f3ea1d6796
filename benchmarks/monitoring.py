"""Monitoring costs, measured beside the obvious alternatives in one run.

1. Records per second into `MLMonitor` through a `RecordBus` (every breakdown on: model,
   provider, operation, agent, user; 5 windows) beside a labelled `prometheus_client`
   Histogram (`labels(...).observe`, bounded labels only) and beside appending latencies
   to a list for a numpy percentile at the end. Interleaved, repeated; median and spread,
   and the ratio to prometheus_client per repetition (the two ran back to back, so a
   change of load between repetitions moves both). The monitor's time includes one read
   at the end (`footprint()`), which counts the records still waiting in its batch.
   Records are stamped with the current time just before each run, as `LLMService`
   stamps a record when its call ends (stale stamps would all take the late-record path).
2. The per-call cost of attaching ml_ops (`RecordWriter` to SQLite + `MLMonitor`) to
   `LLMService.complete` against the zero-latency loopback fake: calls with and without
   it, interleaved in blocks, as a ratio.
3. Resident memory after 1,000,000 records (a fresh process; many users and models).
4. P99 relative error of the monitor's sketch against numpy on the same latencies.

    python benchmarks/monitoring.py                  # about 40 s on 2 cores
    python benchmarks/monitoring.py --records 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ai.core.records import RecordBus, RequestRecord
from ai.core.usage import Usage

MODELS = ("gpt-4o-mini", "gpt-4.1", "claude-3-5-haiku", "o3-mini")


def make_records(count: int, seed: int = 7, users: int = 500) -> list[RequestRecord]:
    """Realistic records: log-normal latencies, 4 models, `users` users, 2% failures."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [
        RequestRecord(
            request_id=uuid.uuid4().hex,
            timestamp=now,
            provider="openai",
            model_requested=(model := MODELS[i % len(MODELS)]),
            model=model,
            usage=Usage(rng.randint(50, 2000), rng.randint(10, 500)),
            estimated_cost=rng.random() / 1000,
            latency_ms=rng.lognormvariate(6.0, 0.7),
            time_to_first_token_ms=None,
            attempts=1,
            success=rng.random() > 0.02,
            user=f"user-{rng.randrange(users)}",
            agent=f"agent-{i % 7}",
        )
        for i in range(count)
    ]


def stamp_now(records: list[RequestRecord]) -> None:
    """Give every record the current time, as if its call had just ended (in place: the
    records are frozen dataclasses, and rebuilding 200,000 of them takes seconds)."""
    now = datetime.now(UTC)
    for record in records:
        object.__setattr__(record, "timestamp", now)


def rate_monitor(records: list[RequestRecord]) -> float:
    from ml_ops.monitoring import MLMonitor

    stamp_now(records)
    bus = RecordBus()
    monitor = MLMonitor()
    monitor.attach(bus)
    started = time.perf_counter()
    for record in records:
        bus.emit(record)
    monitor.footprint()  # a read: counts the records still pending
    return len(records) / (time.perf_counter() - started)


def rate_prometheus(records: list[RequestRecord]) -> float:
    from prometheus_client import CollectorRegistry, Histogram

    histogram = Histogram(
        "latency_seconds", "l", ["provider", "model", "status"], registry=CollectorRegistry()
    )
    started = time.perf_counter()
    for record in records:
        status = "ok" if record.success else "error"
        histogram.labels(record.provider, record.model, status).observe(record.latency_ms / 1000)
    return len(records) / (time.perf_counter() - started)


def rate_list_numpy(records: list[RequestRecord]) -> float:
    import numpy as np

    started = time.perf_counter()
    latencies: list[float] = []
    for record in records:
        latencies.append(record.latency_ms)
    np.percentile(np.asarray(latencies), [50, 95, 99])
    return len(records) / (time.perf_counter() - started)


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return (
        f"{format(statistics.median(values), fmt)} "
        f"[{format(min(values), fmt)}-{format(max(values), fmt)}]"
    )


def ingest_section(count: int, repeats: int) -> None:
    records = make_records(count)
    contenders: dict[str, Callable[[list[RequestRecord]], float]] = {
        "MLMonitor via RecordBus (all breakdowns)": rate_monitor,
        "prometheus_client Histogram labels().observe": rate_prometheus,
        "list.append + numpy percentile": rate_list_numpy,
    }
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            rates[name].append(run(records))
    print(f"\n1. ingest, {count:,} records x {repeats} repetitions (records/s, median [min-max])")
    prometheus = rates["prometheus_client Histogram labels().observe"]
    for name, values in rates.items():
        ratios = [mine / theirs for mine, theirs in zip(values, prometheus, strict=True)]
        print(f"   {name:48} {spread(values):>28}   {spread(ratios, '.2f')}x prometheus")


async def per_call_section(calls: int, blocks: int) -> None:
    from ai.llm_service import LLMConfig, LLMProvider, LLMService
    from ai.testing import FakeProviderServer
    from ml_ops.monitoring import MLMonitor
    from ml_ops.store import RecordWriter, SQLiteEventStore

    messages = [{"role": "user", "content": "Say hello in five words."}]
    times: dict[str, list[float]] = {"bare": [], "with ml_ops": []}
    with FakeProviderServer() as fake, tempfile.TemporaryDirectory() as folder:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
        )
        store = SQLiteEventStore(Path(folder) / "events.db")
        bus = RecordBus()
        writer = RecordWriter(store, retention=None)
        writer.attach(bus)
        MLMonitor().attach(bus)
        async with LLMService(config) as bare, LLMService(config, bus=bus) as watched:
            for service in (bare, watched):  # warm up
                for _ in range(100):
                    await service.complete(messages=messages)
            for block in range(blocks):
                order = [("bare", bare), ("with ml_ops", watched)]
                for name, service in order if block % 2 == 0 else order[::-1]:
                    started = time.perf_counter()
                    for _ in range(calls):
                        await service.complete(messages=messages)
                    times[name].append((time.perf_counter() - started) / calls * 1000)
        await writer.aclose()
        await store.aclose()
    ratios = [w / b for w, b in zip(times["with ml_ops"], times["bare"], strict=True)]
    print(f"\n2. LLMService.complete against the loopback fake, {blocks} blocks of {calls} calls")
    print(f"   bare          ms/call {spread(times['bare'], '.3f')}")
    print(f"   with ml_ops   ms/call {spread(times['with ml_ops'], '.3f')}")
    print(f"   ratio (with / bare, per block) {spread(ratios, '.3f')}")


def memory_child(count: int) -> None:
    from ml_ops.monitoring import MLMonitor

    monitor = MLMonitor()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    chunk = 100_000
    peaks = []
    for start in range(0, count, chunk):
        for record in make_records(min(chunk, count - start), seed=start, users=5000):
            monitor.observe(record)
        monitor.footprint()  # a read: counts the records still pending
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"before_kib": before, "peaks_kib": peaks}))


def memory_section(count: int) -> None:
    output = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(output.strip().splitlines()[-1])
    peaks = [kib / 1024 for kib in data["peaks_kib"]]
    print(f"\n3. peak RSS while feeding {count:,} records (5,000 users), per 100,000 records")
    print("   MiB " + " ".join(f"{p:.0f}" for p in peaks))
    print(f"   before {data['before_kib'] / 1024:.0f} MiB; last / first after 100,000: "
          f"{peaks[-1] / peaks[0]:.2f}x")  # fmt: skip


def accuracy_section() -> None:
    import numpy as np

    from ml_ops.monitoring import MLMonitor

    records = make_records(100_000, seed=11)
    monitor = MLMonitor()
    for record in records:
        monitor.observe(record)
    stats = monitor.get_real_time_stats("all")["latency_ms"]
    exact = np.percentile([r.latency_ms for r in records], [50, 95, 99])
    errors = [abs(stats[k] - e) / e for k, e in zip(("p50", "p95", "p99"), exact, strict=True)]
    print("\n4. relative error of the sketch against numpy on 100,000 latencies")
    print(
        "   "
        + "  ".join(f"{k} {e:.4%}" for k, e in zip(("p50", "p95", "p99"), errors, strict=True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--memory-records", type=int, default=1_000_000)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} at start")
    ingest_section(args.records, args.repeats)
    asyncio.run(per_call_section(args.calls, args.blocks))
    memory_section(args.memory_records)
    accuracy_section()
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
