"""Per-call overhead and throughput of LLMService.complete next to raw httpx, the openai SDK
and LiteLLM.

All clients call the same zero-latency loopback fake (`devora fake-provider`, run in its
own process so it never competes for our interpreter's GIL) with the same request. Each
measurement runs in a fresh process of its own (LiteLLM's import rewires process-wide
settings). Every repetition runs all clients once, in an order rotated per repetition, so
a shared machine's changing load hits them alike; tables give the median and [min-max]
over repetitions, never the best run, and the load average around each repetition.

Two modes:

- sequential: `--calls` awaited one after another after `--warmup`; per-call median and
  p95, and the ratio of medians to raw httpx within each repetition;
- concurrent: `--concurrent-calls` calls from `--concurrency` workers at once (each worker
  awaits its next call as soon as the last returns); calls per second, the ratio to the
  openai SDK within each repetition, and the client process's CPU time per call.

Clients: `llmservice` (defaults), `llmservice@M/K` (`LLMConfig(max_connections=M,
max_keepalive_connections=K)`, `none` for no limit: the sweep behind the defaults),
`httpx` (`httpx.AsyncClient()` with httpx's default limits, 100/20), `openai`
(`AsyncOpenAI`, its limits 1000/100) and `litellm` (`litellm.acompletion`).

    python benchmarks/llm_overhead.py                          # both modes, 3 repetitions
    python benchmarks/llm_overhead.py --mode concurrent --concurrency 50,200
    python benchmarks/llm_overhead.py --mode concurrent \\
        --clients llmservice@100/20,llmservice@200/50,llmservice@1000/100,openai
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

API_KEY = "sk-devora-bench-0123456789"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
SEQUENTIAL_CLIENTS = "llmservice,httpx,openai,litellm"
CONCURRENT_CLIENTS = "llmservice,httpx,openai"
LABELS = {
    "llmservice": "LLMService.complete",
    "llmservice-httpcore1": "LLMService.complete, httpx's own pool (200/50, as before)",
    "httpx": "raw httpx POST",
    "openai": "openai SDK",
    "litellm": "litellm.acompletion",
}


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


def parse_limit(text: str) -> int | None:
    return None if text == "none" else int(text)


async def make_call(
    client: str, base_url: str
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    """The call to time and the clean-up, for one client."""
    name, _, limits = client.partition("@")
    if name == "llmservice":
        from ai.llm_service import LLMConfig, LLMProvider, LLMService

        options: dict[str, Any] = {}
        if limits:
            most, keep = limits.split("/")
            options = {
                "max_connections": parse_limit(most),
                "max_keepalive_connections": parse_limit(keep),
            }
        config = LLMConfig(
            provider=LLMProvider.OPENAI, api_key=API_KEY, model=MODEL, base_url=base_url, **options
        )
        llm = await LLMService(config).__aenter__()
        return (lambda: llm.complete(messages=MESSAGES)), llm.aclose
    if name == "llmservice-httpcore1":  # the client LLMService opened before 0.3
        import httpx

        from ai.llm_service import LLMConfig, LLMProvider, LLMService

        config = LLMConfig(
            provider=LLMProvider.OPENAI, api_key=API_KEY, model=MODEL, base_url=base_url
        )
        http = httpx.AsyncClient(
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        llm = await LLMService(config, http_client=http).__aenter__()

        async def close_both() -> None:
            await llm.aclose()
            await http.aclose()

        return (lambda: llm.complete(messages=MESSAGES)), close_both
    if name == "httpx":
        import httpx

        http = httpx.AsyncClient()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        body = {"model": MODEL, "messages": MESSAGES, "temperature": 0.7, "max_tokens": 4096}

        async def raw() -> object:
            response = await http.post(f"{base_url}/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"]

        return raw, http.aclose
    if name == "openai":
        import openai

        sdk = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)
        return (
            lambda: sdk.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,  # type: ignore[arg-type]
                temperature=0.7,
                max_tokens=4096,
            )
        ), sdk.close
    if name == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        async def via_litellm() -> object:
            return await litellm.acompletion(
                model=f"openai/{MODEL}",
                messages=MESSAGES,
                api_key=API_KEY,
                api_base=base_url,
                temperature=0.7,
                max_tokens=4096,
            )

        async def nothing() -> None:
            return None

        return via_litellm, nothing
    raise ValueError(client)


async def sequential(client: str, base_url: str, calls: int, warmup: int) -> dict[str, float]:
    call, close = await make_call(client, base_url)
    try:
        for _ in range(warmup):
            await call()
        timings = []
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await call()
            timings.append((time.perf_counter() - started) * 1000)
        cpu = time.process_time() - cpu
        return {
            "median": statistics.median(timings),
            "p95": percentile(timings, 0.95),
            "cpu_ms": cpu / calls * 1000,
        }
    finally:
        await close()


async def concurrent(
    client: str, base_url: str, calls: int, warmup: int, concurrency: int
) -> dict[str, float]:
    """`calls` calls from `concurrency` workers; the warm-up opens the connections."""
    call, close = await make_call(client, base_url)

    async def run(total: int) -> list[float]:
        left = total
        latencies: list[float] = []

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                started = time.perf_counter()
                await call()
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies

    try:
        await run(max(warmup, concurrency * 2))
        cpu = time.process_time()
        started = time.perf_counter()
        latencies = await run(calls)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        return {
            "calls_per_s": calls / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "cpu_ms": cpu / calls * 1000,
        }
    finally:
        await close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def in_subprocess(args: list[str]) -> dict[str, float] | str:
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def label(client: str) -> str:
    name, _, limits = client.partition("@")
    text = LABELS[name]
    if name == "llmservice":  # the others say what they run with
        text += f" (limits {limits})" if limits else " (defaults)"
    return text


def spread(values: list[float], digits: int = 2) -> str:
    """median [min-max]"""
    if not values:
        return "n/a"
    return (
        f"{statistics.median(values):.{digits}f} "
        f"[{min(values):.{digits}f}-{max(values):.{digits}f}]"
    )


Runs = dict[str, list[dict[str, float]]]


def repeat(
    clients: list[str], repetitions: int, argv: Callable[[str], list[str]]
) -> tuple[Runs, list[tuple[float, float]]]:
    """Each client once per repetition (order rotated), each in a fresh process."""
    runs: Runs = {client: [] for client in clients}
    loads: list[tuple[float, float]] = []
    for rep in range(repetitions):
        before = os.getloadavg()[0]
        shift = rep % len(clients)
        for client in clients[shift:] + clients[:shift]:
            outcome = in_subprocess(argv(client))
            if isinstance(outcome, str):
                print(f"  {client}: not measured: {outcome}", file=sys.stderr)
                continue
            outcome["rep"] = rep
            runs[client].append(outcome)
        loads.append((before, os.getloadavg()[0]))
    return runs, loads


def ratios(runs: Runs, client: str, baseline: str, key: str, inverse: bool) -> list[float]:
    """Per-repetition ratio of `client` to `baseline` on `key` (both ran in that one)."""
    base = {run["rep"]: run[key] for run in runs.get(baseline, [])}
    return [
        (base[run["rep"]] / run[key]) if inverse else (run[key] / base[run["rep"]])
        for run in runs[client]
        if run["rep"] in base
    ]


def load_text(loads: list[tuple[float, float]]) -> str:
    values = [value for pair in loads for value in pair]
    return f"load average {min(values):.2f}-{max(values):.2f}"


def sequential_table(args: argparse.Namespace, base_url: str) -> None:
    clients = args.clients.split(",") if args.clients else SEQUENTIAL_CLIENTS.split(",")
    runs, loads = repeat(
        clients,
        args.repeat,
        lambda client: [
            *("--worker", client, "--base-url", base_url),
            *("--calls", str(args.calls), "--warmup", str(args.warmup)),
        ],
    )
    print(
        f"\n## sequential: {args.calls} calls per client after {args.warmup} warm-up calls, "
        f"{args.repeat} repetitions, {load_text(loads)} (python {sys.version.split()[0]})"
    )
    print("median [min-max] over repetitions; ratios are per repetition, lower is faster")
    print("| client | median ms | p95 ms | median vs raw httpx | client CPU ms/call |")
    print("|---|---:|---:|---:|---:|")
    for client in clients:
        got = runs[client]
        print(
            f"| {label(client)} | {spread([r['median'] for r in got], 3)} | "
            f"{spread([r['p95'] for r in got], 3)} | "
            f"{spread(ratios(runs, client, 'httpx', 'median', False))}x | "
            f"{spread([r['cpu_ms'] for r in got], 3)} |"
        )


def concurrent_table(args: argparse.Namespace, base_url: str) -> None:
    clients = args.clients.split(",") if args.clients else CONCURRENT_CLIENTS.split(",")
    for level in (int(value) for value in args.concurrency.split(",")):
        runs, loads = repeat(
            clients,
            args.repeat,
            lambda client, level=level: [  # type: ignore[misc]
                "--worker",
                client,
                "--base-url",
                base_url,
                "--calls",
                str(args.concurrent_calls),
                "--warmup",
                str(args.warmup),
                "--concurrency",
                str(level),
            ],
        )
        print(
            f"\n## concurrency {level}: {args.concurrent_calls} calls per run, "
            f"{args.repeat} repetitions, {load_text(loads)}"
        )
        print("median [min-max] over repetitions; ratios are per repetition, higher is faster")
        print("| client | calls/s | vs openai SDK | vs raw httpx | P50 ms | client CPU ms/call |")
        print("|---|---:|---:|---:|---:|---:|")
        for client in clients:
            got = runs[client]
            print(
                f"| {label(client)} | {spread([r['calls_per_s'] for r in got], 0)} | "
                f"{spread(ratios(runs, client, 'openai', 'calls_per_s', False))}x | "
                f"{spread(ratios(runs, client, 'httpx', 'calls_per_s', False))}x | "
                f"{spread([r['p50_ms'] for r in got], 1)} | "
                f"{spread([r['cpu_ms'] for r in got], 3)} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="sequential,concurrent")
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls per run")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrent-calls", type=int, default=4000)
    parser.add_argument("--concurrency", default="50,200")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default="", help="comma-separated (default per mode)")
    parser.add_argument("--worker")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    if args.worker:
        if args.concurrency.isdigit():
            outcome = asyncio.run(
                concurrent(
                    args.worker, args.base_url, args.calls, args.warmup, int(args.concurrency)
                )
            )
        else:
            outcome = asyncio.run(sequential(args.worker, args.base_url, args.calls, args.warmup))
        print(json.dumps(outcome))
        return
    port = free_port()
    fake = start_fake(port)
    base_url = f"http://127.0.0.1:{port}/v1"
    print(f"{os.cpu_count()} CPUs; the fake provider runs in its own process on port {port}")
    try:
        if "sequential" in args.mode:
            sequential_table(args, base_url)
        if "concurrent" in args.mode:
            concurrent_table(args, base_url)
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
