"""Latency added by the gateway, beside LiteLLM's proxy and a direct call, at fixed
open-loop request rates; saturation throughput; the gateway's memory over a long run.

Every contender runs in its own process: the upstream, the devora gateway (one uvicorn
worker, uvloop + httptools, Redis rate limits and budgets, the event store writer and the
access log switched on), LiteLLM's proxy (one worker, `litellm --config`), and this load
generator (aiohttp + uvloop). The generator is open-loop: request i is sent at
start + i/rate whatever happened before, and its latency is measured from that scheduled
time, so queueing inside a contender shows up instead of slowing the schedule down.

The upstream is a canned replay of the devora fake's own `chat.completion` answer served
by a raw asyncio server (`--upstream fake` uses `devora fake-provider` itself, which
saturates near 300 requests/s on one core here and would measure the fake at 500/s).

    python benchmarks/gateway.py                          # 3 repetitions, 10 s per run
    python benchmarks/gateway.py --repeat 1 --seconds 5   # quick look
    python benchmarks/gateway.py --memory-seconds 600     # the docs' long run

Needs the `bench` extra (litellm's proxy, aiohttp, uvloop) and a Redis (`REDIS_URL`, or
`redis-server` on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import uvloop

UPSTREAM_KEY = "sk-devora-bench-upstream-0123456789"
MODEL = "gpt-4o-mini"
BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Say hello in five words."}]}
).encode()
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # noqa: S105 - a throwaway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 90.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


# --- the canned upstream ---------------------------------------------------------------

CANNED_SERVER = r"""
import asyncio, sys, uvloop
body = open(sys.argv[2], "rb").read()
head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\n\r\n")
answer = head + body

class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            headers = self.buffer[:end].lower()
            at = headers.find(b"content-length:")
            stop = headers.find(b"\r\n", at)
            length = int(headers[at + 15:stop if stop > 0 else None]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(answer)

async def main():
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
uvloop.run(main())
"""


def fake_answer(port: int) -> bytes:
    """One answer of the real fake, to replay byte for byte."""
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=BODY,
        headers={"content-type": "application/json", "authorization": f"Bearer {UPSTREAM_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer: bytes = response.read()
        return answer


# --- contenders ------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    url: str
    headers: dict[str, str]
    pid: int | None = None


@dataclass
class Stack:
    """Every process of one benchmark run."""

    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def start_upstream(stack: Stack, mode: str) -> str:
    fake_port = free_port()
    env = {**os.environ}
    devora = Path(sys.executable).with_name("devora")
    fake = stack.spawn(
        "fake",
        [str(devora), "fake-provider", "--port", str(fake_port), "--api-key", UPSTREAM_KEY],
        env,
    )
    wait_http(f"http://127.0.0.1:{fake_port}/v1/models")
    if mode == "fake":
        return f"http://127.0.0.1:{fake_port}/v1"
    answer = stack.workdir / "answer.json"
    answer.write_bytes(fake_answer(fake_port))
    fake.terminate()
    port = free_port()
    script = stack.workdir / "canned.py"
    script.write_text(CANNED_SERVER)
    stack.spawn("upstream", [sys.executable, str(script), str(port), str(answer)], env)
    time.sleep(1.0)
    return f"http://127.0.0.1:{port}/v1"


def start_devora(stack: Stack, upstream: str, redis_url: str) -> tuple[str, dict[str, str]]:
    work = stack.workdir
    config = {
        "gateway": {
            "providers": {"openai": {"base_url": upstream, "api_key_env": "BENCH_UPSTREAM_KEY"}},
            "models": {MODEL: {"provider": "openai", "model": MODEL}},
            "keys": {"store": str(work / "keys.db")},
        }
    }
    (work / "devora.yaml").write_text(json.dumps(config))
    env = {
        **os.environ,
        "DEVORA_CONFIG": str(work / "devora.yaml"),
        "DEVORA_EVENT_STORE": str(work / "events.db"),
        "DEVORA_EXPERIMENTS_STORE": str(work / "experiments.db"),
        "DEVORA_RESPONSE_CACHE": "off",  # every request goes upstream, as with LiteLLM
        "DEVORA_KEY_SECRET": SECRET,
        "DEVORA_ACCESS_LOG": str(work / "access.log"),
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        "REDIS_URL": redis_url,
    }
    keys = {
        label: create_key(work, env, extra)
        for label, extra in (("limits", []), ("limits+budget", ["--budget", "100000/day"]))
    }
    port = free_port()
    uvicorn = "-m uvicorn --factory ml_ops.gateway.standalone:app_from_env --loop uvloop"
    options = "--http httptools --no-access-log --log-level warning --backlog 4096 --port"
    stack.spawn("devora", [sys.executable, *uvicorn.split(), *options.split(), str(port)], env)
    wait_http(f"http://127.0.0.1:{port}/v1/models")
    return f"http://127.0.0.1:{port}/v1", keys


def create_key(work: Path, env: dict[str, str], extra: list[str]) -> str:
    """`devora keys create` with limits far above the load (plus `extra`); the key."""
    limits = "--user bench --team perf --rpm 10000000 --tpm 1000000000 --store"
    command = [str(Path(sys.executable).with_name("devora")), "keys", "create", *limits.split()]
    out = subprocess.run(
        [*command, str(work / "keys.db"), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[1]


def start_litellm(stack: Stack, upstream: str) -> str | None:
    binary = shutil.which("litellm") or str(Path(sys.executable).with_name("litellm"))
    if not Path(binary).exists():
        print("litellm not installed (pip install -e '.[bench]'): skipped")
        return None
    config = stack.workdir / "litellm.yaml"
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": f"openai/{MODEL}",
                            "api_base": upstream,
                            "api_key": UPSTREAM_KEY,
                        },
                    }
                ]
            }
        )
    )
    env = {
        **os.environ,
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    port = free_port()
    stack.spawn("litellm", [binary, "--config", str(config), "--port", str(port)], env)
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    return f"http://127.0.0.1:{port}/v1"


@contextmanager
def redis() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("needs Redis: set REDIS_URL or put redis-server on PATH")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


# --- load ------------------------------------------------------------------------------


@dataclass
class Run:
    latencies_ms: list[float]
    errors: int
    sent: int
    lag_ms: float  # how far the generator itself fell behind its schedule, at most
    kinds: dict[str, int] = field(default_factory=dict)  # what the errors were


async def open_loop(contender: Contender, rate: float, seconds: float) -> Run:
    """Send at `rate`/s for `seconds`; latency from each request's scheduled time."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=60)
    latencies: list[float] = []
    errors = 0
    lag = 0.0
    kinds: dict[str, int] = {}
    url = contender.url + "/chat/completions"
    headers = {"content-type": "application/json", **contender.headers}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with session.post(url, data=BODY, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        kinds[str(response.status)] = kinds.get(str(response.status), 0) + 1
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                errors += 1
                kinds[type(error).__name__] = kinds.get(type(error).__name__, 0) + 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000)

        total = int(rate * seconds)
        tasks = []
        start = time.perf_counter() + 0.05
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag = max(lag, -delay * 1000)
            tasks.append(asyncio.ensure_future(one(scheduled)))
        await asyncio.gather(*tasks)
    return Run(latencies, errors, total, lag, kinds)


async def saturation(contender: Contender, seconds: float, concurrency: int = 64) -> float:
    """Requests/s completed by `concurrency` closed-loop clients."""
    connector = aiohttp.TCPConnector(limit=0)
    url = contender.url + "/chat/completions"
    headers = {"content-type": "application/json", **contender.headers}
    done = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with session.post(url, data=BODY, headers=headers) as response:
                    await response.read()
                    done += response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


# --- the run ---------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace, contenders: list[Contender], devora_pid: int) -> None:
    async def warm(contender: Contender) -> None:
        await open_loop(contender, 50, 2)

    for contender in contenders:
        await warm(contender)
    if args.memory_only:
        await memory(args, contenders, devora_pid)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("\nsaturation throughput (64 closed-loop clients, requests/s):")
    capacity: dict[str, float] = {}
    for contender in contenders:
        capacity[contender.name] = await saturation(contender, args.seconds)
        load = os.getloadavg()[0]
        print(f"  {contender.name:<24} {capacity[contender.name]:8.0f}   load {load:.2f}")
    rates = [float(r) for r in args.rates.split(",")]
    litellm = capacity.get("litellm proxy")
    if litellm is not None and all(rate > litellm for rate in rates):
        # A rate LiteLLM's proxy can carry, so its added latency is not only queueing.
        rates.insert(0, float(max(5, int(litellm * 0.5))))
        print(f"  (added {rates[0]:.0f}/s: half of LiteLLM proxy's saturation)")
    results: dict[tuple[str, float], list[tuple[float, float, float, int, float]]] = {}
    for repetition in range(args.repeat):
        order = contenders[:]
        random.Random(repetition).shuffle(order)
        for rate in rates:
            for contender in order:
                if contender.name.startswith("litellm") and rate > capacity[contender.name]:
                    if repetition == 0:
                        print(f"  {rate:5.0f}/s {contender.name}: not run, above its saturation")
                    continue
                run = await open_loop(contender, rate, args.seconds)
                row = (
                    percentile(run.latencies_ms, 50),
                    percentile(run.latencies_ms, 95),
                    percentile(run.latencies_ms, 99),
                    run.errors,
                    run.lag_ms,
                )
                results.setdefault((contender.name, rate), []).append(row)
                print(
                    f"  rep {repetition + 1} {rate:5.0f}/s {contender.name:<24} "
                    f"p50 {row[0]:6.2f}  p95 {row[1]:6.2f}  p99 {row[2]:6.2f} ms  "
                    f"errors {row[3]}/{run.sent} {run.kinds or ''}  generator lag {row[4]:.1f} ms  "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    report(results, rates, contenders)
    await memory(args, contenders, devora_pid)


def report(results: dict, rates: list[float], contenders: list[Contender]) -> None:  # type: ignore[type-arg]
    print("\nlatency added over the direct call, ms (median [min-max] over repetitions):")
    columns = "".join(f"{name:>20}" for name in ("added p50", "added p95", "added p99"))
    print(f"{'rate':>6} {'contender':<24} {columns}  errors")
    for rate in rates:
        direct = results.get(("direct", rate))
        if not direct:
            continue
        for contender in contenders:
            rows = results.get((contender.name, rate))
            if contender.name == "direct" or not rows:
                continue
            added = [
                [row[q] - base[q] for row, base in zip(rows, direct, strict=False)]
                for q in range(3)
            ]
            errors = sum(row[3] for row in rows)
            print(
                f"{rate:6.0f} {contender.name:<24} {spread(added[0]):>20} "
                f"{spread(added[1]):>20} {spread(added[2]):>20}  {errors}"
            )
        base = [row[1] for row in direct]
        print(f"{rate:6.0f} {'(direct p95, absolute)':<24} {spread(base):>20}")


async def memory(args: argparse.Namespace, contenders: list[Contender], pid: int) -> None:
    gateway = next(c for c in contenders if c.name == "devora (limits+budget)")
    before = rss_mib(pid)
    samples: list[float] = []

    async def sample() -> None:  # a tenth of the run apart: growth that levels off shows
        while True:
            await asyncio.sleep(args.memory_seconds / 10)
            samples.append(rss_mib(pid))

    sampler = asyncio.ensure_future(sample())
    run = await open_loop(gateway, args.memory_rate, args.memory_seconds)
    sampler.cancel()
    after = rss_mib(pid)
    print(
        f"\ndevora gateway RSS: {before:.1f} MiB before, {after:.1f} MiB after "
        f"{run.sent} requests over {args.memory_seconds:.0f} s at {args.memory_rate:.0f}/s "
        f"(errors {run.errors}, p99 {percentile(run.latencies_ms, 99):.2f} ms); "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print("RSS every tenth of the run, MiB: " + " ".join(f"{mib:.1f}" for mib in samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="100,500", help="open-loop rates, requests/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (interleaved)")
    parser.add_argument("--upstream", choices=("canned", "fake"), default="canned")
    parser.add_argument("--memory-seconds", type=float, default=30.0)
    parser.add_argument("--memory-rate", type=float, default=200.0)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="only the memory run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="devora-gw-bench-") as tmp, redis() as redis_url:
        stack = Stack(Path(tmp))
        try:
            upstream = start_upstream(stack, args.upstream)
            devora_url, keys = start_devora(stack, upstream, redis_url)
            devora_pid = stack.processes[-1].pid
            contenders = [
                Contender("direct", upstream, {"authorization": f"Bearer {UPSTREAM_KEY}"})
            ]
            for label, key in keys.items():
                contenders.append(
                    Contender(f"devora ({label})", devora_url, {"authorization": f"Bearer {key}"})
                )
            if not args.no_litellm and (litellm := start_litellm(stack, upstream)):
                contenders.append(Contender("litellm proxy", litellm, {}))
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} cores, upstream "
                f"{args.upstream}, {args.seconds:.0f} s per run, {args.repeat} repetitions"
            )
            uvloop.run(benchmark(args, contenders, devora_pid))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
