"""LLMService under a fixed mix of upstream faults at concurrency 100, breaker on and off.

The loopback fake (`devora fake-provider`, in its own process) drops, fails, rate-limits
and delays a fixed share of attempts; the same workload also runs with no faults, as the
baseline for added latency. For each configuration and repetition it reports:

- user-visible error rate (calls that raised) and upstream attempts per call;
- records per call (every call must leave exactly one `RequestRecord`);
- P50 / P95 latency, and P95 added over the no-fault baseline of the same repetition;
- peak resident memory of the process that ran it (each run has a fresh process).

Configurations are interleaved within each repetition, and the load average is printed,
since these machines are shared.

    python benchmarks/chaos.py                    # 3 repetitions of 3,000 calls
    python benchmarks/chaos.py --calls 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

API_KEY = "sk-devora-bench-0123456789"
MODEL = "gpt-4o-mini"
CONCURRENCY = 100
FAULT_MIX = [  # (rule, share of attempts)
    ({"kind": "disconnect"}, 10),  # every 10th attempt: 10%
    ({"kind": "server_error", "status": 503}, 20),  # 5%
    ({"kind": "rate_limit", "retry_after": 0}, 25),  # 4%
    ({"kind": "slow_first_byte", "delay": 0.2}, 50),  # 2%
]
CONFIGS = {
    "no faults": ({}, False),
    "faults, breaker on": ({}, True),
    "faults, breaker off": (
        {"circuit_failure_threshold": 10**6, "circuit_window": 10**6},
        True,
    ),
}


@dataclass
class Run:
    """One configuration's run: counts, per-call latencies (ms) and peak RSS (bytes)."""

    errors: int
    calls: int
    records: int
    attempts: int
    latencies: list[float]
    peak_bytes: int

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[18]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_fake(port: int) -> subprocess.Popen[bytes]:
    devora = Path(sys.executable).with_name("devora")
    process = subprocess.Popen(
        [str(devora), "fake-provider", "--port", str(port), "--api-key", API_KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the fake provider did not start")


def control(base: str, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"null")


def set_faults(base: str, faulty: bool) -> None:
    control(base, "POST", "/_fake/reset", {})
    if faulty:
        for rule, every in FAULT_MIX:
            control(base, "POST", "/_fake/faults", {**rule, "times": None, "every": every})


async def run_once(base: str, calls: int, overrides: dict[str, int]) -> Run:
    from ai.errors import ProviderError
    from ai.llm_service import LLMConfig, LLMProvider, LLMService

    config = LLMConfig(
        provider=LLMProvider.OPENAI,
        api_key=API_KEY,
        model=MODEL,
        base_url=base + "/v1",
        retry_delay=0.01,
        max_retry_delay=0.05,
        timeout=10.0,
        **overrides,  # type: ignore[arg-type]
    )
    records: list[object] = []
    latencies: list[float] = []
    gate = asyncio.Semaphore(CONCURRENCY)
    errors = 0
    async with LLMService(config) as llm:
        llm.subscribe(records.append)

        async def one(index: int) -> None:
            nonlocal errors
            async with gate:
                started = time.perf_counter()
                try:
                    await llm.complete(messages=[{"role": "user", "content": f"q{index}"}])
                except ProviderError:
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one(i) for i in range(calls)))
        attempts = llm.get_metrics()["total_attempts"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return Run(errors, calls, len(records), attempts, latencies, peak)


def run_in_fresh_process(base: str, calls: int, name: str) -> Run:
    """Each run in its own interpreter, so its peak memory is its own."""
    output = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--base", base, "--calls", str(calls)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Run(**json.loads(output.strip().splitlines()[-1]))


def spread(values: list[float], fmt: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{format(mid, fmt)} [{format(low, fmt)}-{format(high, fmt)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        logging.disable(logging.WARNING)  # retries log a warning each; not what we measure
        run = asyncio.run(run_once(args.base, args.calls, CONFIGS[args.worker][0]))
        print(json.dumps(run.__dict__))
        return
    port = free_port()
    fake = start_fake(port)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[Run]] = {name: [] for name in CONFIGS}
    loads = [os.getloadavg()[0]]
    try:
        set_faults(base, False)
        run_in_fresh_process(base, min(args.calls, 500), "no faults")  # warm the fake up
        for repeat in range(args.repeats):
            names = list(CONFIGS)
            names = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate
            for name in names:
                faulty = CONFIGS[name][1]
                set_faults(base, faulty)
                results[name].append(run_in_fresh_process(base, args.calls, name))
            loads.append(os.getloadavg()[0])
    finally:
        fake.terminate()
        fake.wait(10)
    print(f"{args.calls} calls x {args.repeats} repetitions, concurrency {CONCURRENCY}")
    mix = ", ".join(f"{rule['kind']} 1/{every}" for rule, every in FAULT_MIX)
    print(f"fault mix per attempt: {mix}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f}")
    print("median [min-max] over repetitions")
    header = f"{'configuration':22} {'errors %':>18} {'records/call':>13} {'attempts/call':>19}"
    print(header + f" {'P50 ms':>20} {'P95 ms':>20} {'P95 added ms':>20} {'peak RSS MiB':>18}")
    baseline = results["no faults"]
    for name, runs in results.items():
        added = [run.p95 - base_run.p95 for run, base_run in zip(runs, baseline, strict=True)]
        row = (
            f"{name:22} {spread([100 * r.errors / r.calls for r in runs], '.2f'):>18} "
            f"{spread([r.records / r.calls for r in runs], '.3f'):>13} "
            f"{spread([r.attempts / r.calls for r in runs], '.2f'):>19} "
            f"{spread([r.p50 for r in runs], '.1f'):>20} "
            f"{spread([r.p95 for r in runs], '.1f'):>20} "
            f"{spread(added, '.1f'):>20} {spread([r.peak_bytes / 2**20 for r in runs], '.1f'):>18}"
        )
        print(row)


if __name__ == "__main__":
    main()
