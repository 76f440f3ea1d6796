"""Per-call overhead of LLMService.complete next to raw httpx, the openai SDK and LiteLLM.

All four clients call the same zero-latency loopback fake (`devora fake-provider`, run in
its own process so it never competes for our interpreter's GIL). Each client is measured
in a fresh process of its own (LiteLLM's import rewires process-wide settings), warm,
sequentially, with the same request. Prints medians, p95s and the ratio to raw httpx.

    python benchmarks/llm_overhead.py              # 2,000 calls per client
    python benchmarks/llm_overhead.py --calls 500  # quicker
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

API_KEY = "sk-devora-bench-0123456789"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
CLIENTS = ("llmservice", "httpx", "openai", "litellm")


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


async def make_call(
    client: str, base_url: str
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    """The call to time and the clean-up, for one client."""
    if client == "llmservice":
        from ai.llm_service import LLMConfig, LLMProvider, LLMService

        config = LLMConfig(
            provider=LLMProvider.OPENAI, api_key=API_KEY, model=MODEL, base_url=base_url
        )
        llm = await LLMService(config).__aenter__()
        return (lambda: llm.complete(messages=MESSAGES)), llm.aclose
    if client == "httpx":
        import httpx

        http = httpx.AsyncClient()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        body = {"model": MODEL, "messages": MESSAGES, "temperature": 0.7, "max_tokens": 4096}

        async def raw() -> object:
            response = await http.post(f"{base_url}/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"]

        return raw, http.aclose
    if client == "openai":
        import openai

        sdk = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)
        return (
            lambda: sdk.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                temperature=0.7,
                max_tokens=4096,  # type: ignore[arg-type]
            )
        ), sdk.close
    if client == "litellm":
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


async def measure(client: str, base_url: str, calls: int, warmup: int) -> list[float]:
    call, close = await make_call(client, base_url)
    try:
        for _ in range(warmup):
            await call()
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            await call()
            timings.append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        await close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_client_in_subprocess(
    client: str, base_url: str, calls: int, warmup: int
) -> dict[str, float] | str:
    command = [
        sys.executable,
        __file__,
        "--worker",
        client,
        "--base-url",
        base_url,
        "--calls",
        str(calls),
        "--warmup",
        str(warmup),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--worker")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    if args.worker:
        timings = asyncio.run(measure(args.worker, args.base_url, args.calls, args.warmup))
        print(json.dumps({"median": statistics.median(timings), "p95": percentile(timings, 0.95)}))
        return
    port = free_port()
    fake = start_fake(port)
    base_url = f"http://127.0.0.1:{port}/v1"
    results: dict[str, dict[str, float] | str] = {}
    try:
        for client in args.clients.split(","):
            results[client] = run_client_in_subprocess(client, base_url, args.calls, args.warmup)
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    baseline = results.get("httpx")
    print(
        f"{args.calls} sequential calls per client after {args.warmup} warm-up calls, "
        f"same loopback fake, one process per client (python {sys.version.split()[0]})"
    )
    print(f"{'client':<24}{'median ms':>12}{'p95 ms':>12}{'median vs httpx':>18}")
    for client, outcome in results.items():
        label = {
            "llmservice": "LLMService.complete",
            "httpx": "raw httpx POST",
            "openai": "openai SDK",
            "litellm": "litellm.acompletion",
        }[client]
        if isinstance(outcome, str):
            print(f"{label:<24}  not measured: {outcome}")
            continue
        ratio = ""
        if isinstance(baseline, dict):
            ratio = f"{outcome['median'] / baseline['median']:.2f}x"
        print(f"{label:<24}{outcome['median']:>12.3f}{outcome['p95']:>12.3f}{ratio:>18}")


if __name__ == "__main__":
    main()
