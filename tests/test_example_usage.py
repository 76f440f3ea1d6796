"""`python -m ai.example_usage` (the spec's walk-through) runs offline, with no API key."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from rich.console import Console

from ai.example_usage import (
    loopback_fake,
    ml_ops_sections,
    on_fake,
    pgvector_store,
    redis_cache,
)
from ai.rag import EmbeddingService
from ai.testing import FakeProviderServer

# Sections 1-5: the `ai` half.
AI_FACTS = [
    "using devora's loopback fake of OpenRouter",
    "1. Completion",
    "Response: Hello from the devora fake",
    # 1, on the loopback fake: backoff of 0.05 s doubling, a fallback, a second provider
    "openai gpt-4o-mini failed (rate_limit, attempt 1); retrying in 0.05s",
    "openai gpt-4o-mini failed (overloaded, attempt 2); retrying in 0.10s",
    "retries: a 429, then a 503, then answered on attempt 3",
    "fallback: asked for gpt-4o (503 every time), answered by gpt-4o-mini after 3 attempts, "
    "fallback_used=True",
    "LLMProvider.ANTHROPIC: anthropic / claude-3-5-haiku-20241022 answered 'Hello from the "
    "devora fake (claude-3-5-haiku-20241022). You said: Say hello in five words.'",
    "streamed: ",
    "get_metrics(): 2 requests, 0 failed, 2 attempts, average latency ",
    "call 1: cached=False",
    "call 2: cached=True cost=$0.000000",
    "hit rate 33%",
    # 3, on the fake: LRU eviction at max_entries, then TTL expiry on the injected clock
    "memory(max_entries=2, ttl=60): 3 answers -> 2 entries, ",
    "indexed 3 documents as 3 chunks",
    # 4. the filter leaves out `retries`, the second best hit without it
    "  retries: 0.",
    "filter={'topic': 'cost'}: ['budgets', 'cache']",
    "chunk_text: a 1718-character document -> 8 chunks of 42-57 tokens (chunk_size=64, "
    "overlap 8), all ending at a sentence end: True, under ['Handbook']",
    "on the fakes, openai:text-embedding-3-small:1536 into pinecone (3 vectors): top hit "
    "budgets, filter={'topic': 'cost'}: ['budgets', 'cache']",
    "[1] (source: budgets > Costs)",
    "built-in library: 17 templates in 10 categories",
    "rag_answer versions [1, 2, 3], labels {'production': 2, 'concise': 3}",
    "user-1 gets version 3 (concise)",
    "user-2 gets version 2 (production)",
    "'prompt': 'rag_answer', 'prompt_version': '2', 'experiment': 'answer-style'",
]
AI_PATTERNS = [
    r" bytes, 1 evicted; 61 s later the same request is cached=False, [1-9] expired\n",
]
# Sections 6-11: `ml_ops.walkthrough`. Counts are those of the walk-through's own calls.
ML_OPS_FACTS = [
    # 6. the router sends the short question to the cheap model and keeps the review
    "6. Model selection",
    "simple question: asked for gpt-4o, answered by gpt-4o-mini (route simple:rule:short_prompt)",
    "design review: asked for gpt-4o, answered by gpt-4o (route complex:rule:hard_category)",
    "routing_savings: 1 routed call cost $",
    # 7. two routed + six bus calls + four by hand, two of them rate limited
    "7. Monitoring",
    "get_real_time_stats('5m'): 12 requests, success rate 83.3%, errors {'rate_limit': 2}",
    "  gpt-4o-mini: 7 requests, latency P50 ",
    "  gpt-4o: 5 requests, latency P50 ",
    "alert firing: error-rate: error_rate > 0.1 over 5m is 0.166667 (12 requests)",
    # 8. one budget downgrades, the other refuses; the report counts the refusal
    "8. Cost tracking",
    "bob call 3: refused before any request (BudgetExceededError",
    "budget ana-daily: 53% used, in effect: True",
    # ...the support bot's 28 days before today feed the forecast (a pattern below) and the
    # recommendations
    "recommendation (cheaper_model): Move short gpt-4o calls to gpt-4o-mini, saves $",
    "recommendation (missing_budget): Set a budget for agent 'support-bot', caps the risk",
    # 804 calls of history and today's 15
    "export records.csv: 819 rows, columns request_id, timestamp, operation, provider, ...",
    "export forecast.csv: 8 rows (day,point,lower_80%,upper_80%,lower_95%,upper_95%)",
    "export recommendations.json: 2 items ['cheaper_model', 'missing_budget']",
    # 9. Quick Start 4 over 20 sticky users
    "9. A/B testing",
    "experiment prompt_test (running): 20 exposures, 20 results tracked",
    "decision (insufficient_sample): no winner yet: n=12/8 (concise/detailed), below the 100 "
    "needed",
    # ...then its lifecycle: paused serves the control, completed the chosen winner
    "pause_experiment: user-1 (detailed) is served concise (the control); resume_experiment: "
    "detailed again",
    "complete_experiment(winner='detailed'): completed, user-0 (concise) is served detailed",
    # 10. the dashboard over the same monitor, tracker and tester
    "10. Dashboard",
    "Total requests: 39",
    "System health: degraded",
    "budgets: degraded (downgrading calls: ana-daily)",
    "model routing: 2 decisions, 1 call(s) sent to the cheap model",
    "experiment prompt_test: completed, significant: False",
    # the tracker's records: 804 of history and the 35 calls of sections 6 to 9
    "cost analysis: 839 requests kept, $",
    "recommendations ['Move short gpt-4o calls to gpt-4o-mini', \"Set a budget for agent "
    "'support-bot'\"]",
    "get_alerts(): 1 recent ['error-rate']",
    "acknowledged in get_alerts(): ['error-rate']",
    # 11. devora serve in-process
    "11. Gateway and dashboard served",
    "POST /admin/keys -> 201: virtual key sk-dvr-",
    "openai SDK: fast answered 'Hello from the devora fake (gpt-4o-mini). You said: Hello "
    "through the gateway!'",
    "dashboard /api/overview: total_requests 1, $0.0000",
]
ML_OPS_PATTERNS = [
    r"  tokens by agent \{'support-bot': \d+, 'nightly-batch': 5400\}, by user "
    r"\{'ana': \d+, 'ben': \d+\}, cost per request \$0\.00\d+",
    r"all models: latency P50 \d+\.\d ms, P95 \d+\.\d ms, time to first token P50 \d+\.\d ms",
    r"ana call [2-9]: gpt-4o -> gpt-4o-mini \(downgraded\), \$0\.0000\d\d, ana-daily 5\d% used",
    r"get_report\(days=1\), today: 15 requests, \$0\.00\d+, 1 refused",
    r"forecast\(days=7\) from 28 days of history \(seasonal_ets\): \$1\.\d\d, 80% interval "
    r"\$\d\.\d\d-\$\d\.\d\d\n",
    r"forecast: \$1\.\d\d over the next 7 days \(seasonal_ets\), from \d{4}-\d\d-\d\d to ",
    r"  concise: 12 results, success 100% \(CI \d+%-100%\), latency P50 \d+\.\d ms",
    r"  detailed: 8 results, success 100% \(CI \d+%-100%\), latency P50 \d+\.\d ms",
    r"\(\d+ tokens\)\ndashboard /api/overview: total_requests 1, \$0\.0000\d+, P95 \d+\.\d ms",
]


def test_walk_through_runs_every_section_against_the_fakes() -> None:
    # No provider key, Redis or PostgreSQL: the tests below cover those paths.
    optional = ("REDIS_URL", "POSTGRES_CONNECTION_STRING")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k not in optional}
    env["COLUMNS"] = "200"  # keep Rich from wrapping lines
    done = subprocess.run(
        [sys.executable, "-m", "ai.example_usage"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in [*AI_FACTS, *ML_OPS_FACTS]:
        assert expected in out, f"missing {expected!r} in:\n{out}"
    for pattern in [*AI_PATTERNS, *ML_OPS_PATTERNS]:
        assert re.search(pattern, out), f"no match for {pattern!r} in:\n{out}"
    assert "Loading weights" not in done.stderr + out
    assert "Traceback" not in done.stderr


async def test_ml_ops_sections_say_which_extra_to_install_without_uvicorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.split(".")[:2] == ["ml_ops", "walkthrough"]]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails
    output = io.StringIO()
    console = Console(file=output, width=200)
    async with AsyncExitStack() as stack:
        await ml_ops_sections(console, stack)
    printed = output.getvalue()
    assert "Sections 6-11" in printed
    assert "skipped: uvicorn is missing; pip install 'devora-ai[server]'" in printed
    assert "6. Model selection" not in printed


async def test_ml_ops_sections_call_the_gateway_with_httpx_without_the_openai_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` now fails
    output = io.StringIO()
    console = Console(file=output, width=200)
    async with AsyncExitStack() as stack:
        await ml_ops_sections(console, stack)
    printed = output.getvalue()
    assert "httpx: fast answered 'Hello from the devora fake (gpt-4o-mini)." in printed
    assert "dashboard /api/overview: total_requests 1," in printed


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer() as server:
        yield server


def _console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=200), output


async def test_parts_on_the_fakes_say_which_extra_to_install_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ai.testing", None)  # `from ai.testing import` now fails
    console, output = _console()
    async with AsyncExitStack() as stack:
        assert await loopback_fake(console, stack) is None
    assert "run on loopback fakes, skipped: pip install 'devora-ai[server]'" in output.getvalue()


async def test_section_3_runs_the_two_calls_on_redis_when_redis_url_is_set(
    fake: FakeProviderServer, redis_url: str
) -> None:
    import redis.asyncio

    console, output = _console()
    await redis_cache(console, on_fake(fake, "gpt-4o-mini"), {"REDIS_URL": redis_url})
    assert f"Redis at {redis_url}: call 1 cached=False, call 2 cached=True" in output.getvalue()
    assert fake.request_count() == 1  # the second call was served by Redis
    client = redis.asyncio.Redis.from_url(redis_url)
    try:  # the run's own prefix is cleared afterwards
        assert [key async for key in client.scan_iter(match="devora:walkthrough:*")] == []
    finally:
        await client.aclose()


async def test_section_3_says_how_to_use_redis_or_that_it_did_not_answer(
    fake: FakeProviderServer,
) -> None:
    console, output = _console()
    config = on_fake(fake, "gpt-4o-mini")
    await redis_cache(console, config, {})
    await redis_cache(console, config, {"REDIS_URL": "redis://:secret@127.0.0.1:1/0"})
    printed = output.getvalue()
    assert "Redis: set REDIS_URL=redis://localhost:6379/0 to run them on Redis too" in printed
    assert "Redis at redis://:***@127.0.0.1:1/0 did not answer: both calls went uncached" in (
        printed
    )
    assert "secret" not in printed
    assert fake.request_count() == 2


async def test_section_4_searches_pgvector_when_postgres_connection_string_is_set(
    fake: FakeProviderServer, postgres_test_url: str
) -> None:
    console, output = _console()
    async with EmbeddingService(
        api_key=fake.api_key, base_url=fake.openai_base_url, environ={}
    ) as embeddings:
        environ = {"POSTGRES_CONNECTION_STRING": postgres_test_url}
        await pgvector_store(console, embeddings, environ)
    printed = output.getvalue()
    assert "(table devora_walkthrough): top hit budgets" in printed, printed
    import asyncpg

    connection = await asyncpg.connect(postgres_test_url)
    try:  # the run's rows are deleted afterwards
        assert await connection.fetchval("SELECT count(*) FROM devora_vec_devora_walkthrough") == 0
    finally:
        await connection.close()


async def test_section_4_says_how_to_use_pgvector_or_why_it_failed(
    fake: FakeProviderServer,
) -> None:
    console, output = _console()
    async with EmbeddingService(
        api_key=fake.api_key, base_url=fake.openai_base_url, environ={}
    ) as embeddings:
        await pgvector_store(console, embeddings, {})
        dsn = "postgresql://devora:secret@127.0.0.1:1/devora"
        await pgvector_store(console, embeddings, {"POSTGRES_CONNECTION_STRING": dsn})
    printed = output.getvalue()
    assert "pgvector: set POSTGRES_CONNECTION_STRING to a PostgreSQL" in printed
    assert "pgvector at postgresql://devora:***@127.0.0.1:1/devora skipped: " in printed
    assert "secret" not in printed
