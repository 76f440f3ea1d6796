"""Cache benchmarks: what the cache backends cost next to the plain tools they replace.

Sections (each prints its own table; `SECTIONS` lists them in order, append new ones):

- memory: `MemoryBackend` (async API, LRU by entries and bytes, TTL per entry) against
  `cachetools.TTLCache(maxsize, ttl)` (sync, LRU + one TTL) with the same entry bound and
  TTL, the same keys and the same value objects. Paths: get hit, get miss, set of a new
  key into a full cache (one LRU eviction per set), set overwriting a present key.
  `--ops` operations per run, `--repeat` runs, medians.
- hit: a cache hit through `LLMService.complete` (memory cache, no guards; it still
  builds `CompletionStats` and puts one `RequestRecord` on the bus) next to the least a
  hit can be (a sha256 key over the request's canonical JSON, a dict lookup, a result
  pair) and next to the floor of our contract (key, lookup, `CompletionStats`,
  `RequestRecord` on the bus, without the service around them); runs interleaved.
- redis: `RedisBackend.get`/`set` against plain `redis.asyncio` GET/SET PX on the same
  server with the same value bytes, sequential awaits (one in flight: this measures our
  overhead per call, not Redis throughput). Redis from `$REDIS_URL`, else a private
  `redis-server` on a free loopback port in a temporary folder, stopped at the end.

    .venv/bin/python benchmarks/cache.py
    .venv/bin/python benchmarks/cache.py --ops 20000 --repeat 3 --skip-redis
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ai.cache.entry import CachedResponse
from ai.cache.memory import MemoryBackend
from ai.core.usage import Usage

TTL = 3600.0
VALUE = CachedResponse(
    text="The capital of France is Paris. " * 8,
    model="gpt-4o-mini",
    provider="openai",
    usage=Usage(input_tokens=24, output_tokens=64),
    cost=0.000_042,
    finish_reason="stop",
    created_at=1_764_000_000.0,
)

Section = Callable[[argparse.Namespace], None]


# --- memory backend vs cachetools ---------------------------------------------------------


def _time_cachetools(path: str, keys: list[str], capacity: int, fill: list[str]) -> float:
    from cachetools import TTLCache

    cache: TTLCache[str, CachedResponse] = TTLCache(maxsize=capacity, ttl=TTL)
    for key in fill:
        cache[key] = VALUE
    get = cache.get
    started = time.perf_counter()
    if path.startswith("get"):
        for key in keys:
            get(key)
    else:
        for key in keys:
            cache[key] = VALUE
    return time.perf_counter() - started


async def _time_memory(path: str, keys: list[str], capacity: int, fill: list[str]) -> float:
    backend = MemoryBackend(max_entries=capacity, default_ttl=TTL)
    for key in fill:
        await backend.set(key, VALUE, None)
    get, put = backend.get, backend.set
    started = time.perf_counter()
    if path.startswith("get"):
        for key in keys:
            await get(key)
    else:
        for key in keys:
            await put(key, VALUE, None)
    return time.perf_counter() - started


def _memory_workloads(ops: int, capacity: int) -> dict[str, tuple[list[str], list[str]]]:
    """Path name -> (keys to operate on, keys to fill the cache with first)."""
    resident = [f"prompt:{index:08d}" for index in range(capacity)]
    shuffled = random.Random(7)
    hits = [shuffled.choice(resident) for _ in range(ops)]
    misses = [f"absent:{index:08d}" for index in range(ops)]
    fresh = [f"new:{index:08d}" for index in range(ops)]
    return {
        "get hit": (hits, resident),
        "get miss": (misses, resident),
        "set new key, evicting LRU": (fresh, resident),
        "set overwrite": (hits, resident),
    }


def memory_section(args: argparse.Namespace) -> None:
    """MemoryBackend vs cachetools.TTLCache, ops/s medians and the ratio ours/theirs."""
    capacity = args.capacity
    print(f"\n## memory: MemoryBackend vs cachetools.TTLCache(maxsize={capacity:,}, ttl={TTL:.0f})")
    print(f"{args.ops:,} ops per run, median of {args.repeat} runs; cache full before each run")
    print(f"{'path':<28}{'cachetools ops/s':>18}{'MemoryBackend ops/s':>22}{'ours/theirs':>13}")
    loop = asyncio.new_event_loop()
    try:
        for path, (keys, fill) in _memory_workloads(args.ops, capacity).items():
            theirs, ours = [], []
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                theirs.append(_time_cachetools(path, keys, capacity, fill))
                ours.append(loop.run_until_complete(_time_memory(path, keys, capacity, fill)))
            theirs_rate = len(keys) / statistics.median(theirs)
            ours_rate = len(keys) / statistics.median(ours)
            print(
                f"{path:<28}{theirs_rate:>18,.0f}{ours_rate:>22,.0f}"
                f"{ours_rate / theirs_rate:>12.2f}x"
            )
    finally:
        loop.close()


# --- redis backend vs plain redis.asyncio ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _redis_url() -> Iterator[str]:
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
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(directory), "--daemonize", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


async def _redis_rates(url: str, ops: int, runs: int) -> dict[str, tuple[float, float]]:
    import redis.asyncio as aioredis

    from ai.cache.redis_backend import RedisBackend

    prefix = f"devora-bench:{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend(url, prefix=prefix)
    raw = aioredis.Redis.from_url(url)
    data, ttl_ms = VALUE.to_bytes(), int(TTL * 1000)
    ours_key, raw_key = "k", prefix + "raw"
    try:
        await backend.set(ours_key, VALUE, None)
        await raw.set(raw_key, data, px=ttl_ms)
        cases: dict[
            str, tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]
        ] = {
            "GET (ours decodes the value)": (
                lambda: raw.get(raw_key),
                lambda: backend.get(ours_key),
            ),
            "SET PX (ours encodes it)": (
                lambda: raw.set(raw_key, data, px=ttl_ms),
                lambda: backend.set(ours_key, VALUE, None),
            ),
        }
        rates: dict[str, tuple[float, float]] = {}
        for name, (plain, ours) in cases.items():
            timings: tuple[list[float], list[float]] = ([], [])
            for _ in range(runs):
                for call, sink in ((plain, timings[0]), (ours, timings[1])):
                    started = time.perf_counter()
                    for _ in range(ops):
                        await call()
                    sink.append(time.perf_counter() - started)
            rates[name] = (ops / statistics.median(timings[0]), ops / statistics.median(timings[1]))
        return rates
    finally:
        await backend.clear()
        await backend.aclose()
        await raw.delete(raw_key)
        await raw.aclose()


def redis_section(args: argparse.Namespace) -> None:
    """RedisBackend vs plain redis.asyncio on the same server and value bytes."""
    if args.skip_redis:
        print("\n## redis: skipped (--skip-redis)")
        return
    with _redis_url() as url:
        where = "REDIS_URL" if os.environ.get("REDIS_URL", "").strip() else "private redis-server"
        print(f"\n## redis: RedisBackend vs plain redis.asyncio ({where}, loopback)")
        print(
            f"{args.redis_ops:,} sequential awaits per run, median of {args.redis_runs} runs; "
            f"value {len(VALUE.to_bytes())} bytes"
        )
        print(f"{'command':<30}{'redis.asyncio ops/s':>21}{'RedisBackend ops/s':>20}{'ratio':>8}")
        rates = asyncio.run(_redis_rates(url, args.redis_ops, args.redis_runs))
        for name, (plain, ours) in rates.items():
            print(f"{name:<30}{plain:>21,.0f}{ours:>20,.0f}{ours / plain:>7.2f}x")


# --- single-flight (placeholder for the ResponseCache part) -------------------------------------


async def _single_flight(callers: int) -> tuple[int, int, float]:
    """(provider calls, cached answers, seconds) for `callers` concurrent identical calls."""
    from ai.cache import ResponseCache
    from ai.llm_service import LLMConfig, LLMProvider, LLMService
    from ai.testing import FakeProviderServer, Fault

    async with FakeProviderServer() as fake:
        fake.faults.push(Fault.slow_first_byte(0.05))  # keep the first call in flight
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
            temperature=0.0,
        )
        question = [{"role": "user", "content": "What is the capital of France?"}]
        async with LLMService(config, cache=ResponseCache.memory()) as llm:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(llm.complete(messages=question) for _ in range(callers))
            )
            elapsed = time.perf_counter() - started
        cached = sum(stats.cached for _, stats in results)
        return fake.request_count(), cached, elapsed


def single_flight_section(args: argparse.Namespace) -> None:
    """100 concurrent identical LLMService calls with a cache: provider calls must be 1."""
    calls, cached, elapsed = asyncio.run(_single_flight(100))
    print("\nsingle-flight: 100 concurrent identical LLMService.complete calls, memory cache")
    print(f"  provider calls made: {calls} (target 1); answers shared: {cached}")
    print(f"  all 100 answered in {elapsed * 1000:.1f} ms (first byte delayed 50 ms on purpose)")


# --- the hit path through LLMService.complete ---------------------------------------------------


HIT_QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16},
}


def _baseline(store: dict[str, tuple[str, float]]) -> Callable[[], object]:
    """What a hit must do at the least: a sha256 key over the request's canonical JSON, a
    dict lookup, and the (text, stats) pair built from the entry."""
    import hashlib
    import json

    def hit() -> object:
        payload = {
            "model": "gpt-4o-mini",
            "messages": HIT_QUESTION,
            "temperature": 0.0,
            "max_tokens": 4096,
        }
        key = hashlib.sha256(
            json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        text, cost = store[key]
        return text, {"cached": True, "estimated_cost": 0.0, "saved_cost": cost}

    payload = {"model": "gpt-4o-mini", "messages": HIT_QUESTION, "temperature": 0.0}
    payload["max_tokens"] = 4096
    key = hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    store[key] = ("Paris.", 0.000_004)
    return hit


def _floor(llm: object) -> Callable[[], object]:
    """The parts of our hit no restructuring removes: the request and its key, the
    lookup, `CompletionStats`, and the one `RequestRecord` counted in the service's
    metrics and delivered on a bus."""
    from ai.calls.call_options import call_spec
    from ai.calls.chat_call import new_request_id
    from ai.calls.stats import CompletionStats
    from ai.core.records import CostSource, RecordBus, RequestRecord

    service: Any = llm
    cache, config, clock, metrics = service._cache, service.config, service._clock, service.metrics
    bus, delivered = RecordBus(), []  # its own bus (one subscriber, as the service's has)
    bus.subscribe(delivered.append)

    def hit() -> object:
        spec = call_spec(config, HIT_QUESTION, {})
        plan = cache.plan("openai", spec.request, None)
        entry = cache.backend._data[plan.key][0]  # the dict lookup
        stats = CompletionStats(
            request_id=new_request_id(),
            provider=entry.provider,
            model=entry.model,
            model_requested=spec.request.model,
            input_tokens=0,
            output_tokens=0,
            cached_input_tokens=0,
            cache_creation_tokens=0,
            reasoning_tokens=0,
            tokens_estimated=False,
            estimated_cost=0.0,
            cost_source=CostSource.CACHE,
            latency_ms=0.0,
            time_to_first_token_ms=None,
            attempts=0,
            cached=True,
            saved_cost=entry.cost,
        )
        record = RequestRecord(
            request_id=stats.request_id,
            timestamp=clock.now(),
            provider=stats.provider,
            model_requested=stats.model_requested,
            model=stats.model,
            usage=None,
            estimated_cost=0.0,
            latency_ms=0.0,
            time_to_first_token_ms=None,
            attempts=0,
            success=True,
            cached=True,
            cost_source=CostSource.CACHE,
            saved_cost=entry.cost,
        )
        metrics.observe(record)
        bus.emit(record)
        delivered.clear()
        return entry.text, stats

    return hit


async def _hit_rates(calls: int, runs: int) -> dict[str, list[float]]:
    """Microseconds per call of each path, per run; the paths interleaved in every run."""
    import httpx

    from ai.cache import ResponseCache
    from ai.llm_service import LLMConfig, LLMProvider, LLMService

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=ANSWER)

    config = LLMConfig(
        provider=LLMProvider.OPENAI,
        api_key="sk-bench",
        model="gpt-4o-mini",
        base_url="http://bench.invalid/v1",
        temperature=0.0,
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    records: list[object] = []
    async with LLMService(config, cache=ResponseCache.memory(), http_client=client) as llm:
        llm.subscribe(records.append)
        await llm.complete(messages=HIT_QUESTION)  # the one miss, stored
        complete = llm.complete

        async def ours() -> None:
            for _ in range(calls):
                await complete(messages=HIT_QUESTION)

        async def plain(hit: Callable[[], object]) -> None:
            for _ in range(calls):
                hit()

        paths: dict[str, Callable[[], Awaitable[None]]] = {
            "LLMService.complete, cache hit": ours,
            "dict + sha256 key + result": partial(plain, _baseline({})),
            "floor: key, lookup, stats, record": partial(plain, _floor(llm)),
        }
        await ours()  # warm-up
        timings: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        for run in range(runs):
            shift = run % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                await paths[name]()
                timings[name].append((time.perf_counter() - started) / calls * 1e6)
    await client.aclose()
    assert len(records) == 1 + calls * (runs + 1), "one record per call, hits included"
    return timings


def hit_path_section(args: argparse.Namespace) -> None:
    """A cache hit through LLMService.complete next to a dict lookup with a sha256 key."""
    before = os.getloadavg()[0]
    timings = asyncio.run(_hit_rates(args.hit_calls, args.hit_runs))
    after = os.getloadavg()[0]
    print(
        f"\n## hit path: {args.hit_calls:,} calls per run, {args.hit_runs} runs interleaved, "
        f"load average {before:.2f}-{after:.2f}"
    )
    print("microseconds per call, median [min-max] over runs (every hit leaves its record)")
    print(f"{'path':<38}{'us per call':>26}")
    for name, values in timings.items():
        spread = f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"
        print(f"{name:<38}{spread:>26}")


SECTIONS: list[Section] = [
    memory_section,
    redis_section,
    single_flight_section,
    hit_path_section,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000, help="memory ops per run")
    parser.add_argument("--repeat", type=int, default=5, help="memory runs (median)")
    parser.add_argument("--capacity", type=int, default=10_000, help="memory max entries")
    parser.add_argument("--redis-ops", type=int, default=5_000, help="Redis ops per run")
    parser.add_argument("--redis-runs", type=int, default=7, help="Redis runs (median)")
    parser.add_argument("--skip-redis", action="store_true", help="leave out the Redis section")
    parser.add_argument("--hit-calls", type=int, default=20_000, help="hit-path calls per run")
    parser.add_argument("--hit-runs", type=int, default=9, help="hit-path runs (interleaved)")
    parser.add_argument(
        "--only", default="", help="comma-separated sections: memory, redis, single, hit"
    )
    args = parser.parse_args()
    print("# devora-ai cache benchmark")
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}) on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; ops/s, higher is "
        "better; ratio > 1 means ours is faster"
    )
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    for section in SECTIONS:
        if not wanted or any(section.__name__.startswith(name) for name in wanted):
            section(args)


if __name__ == "__main__":
    main()
