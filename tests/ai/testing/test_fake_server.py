"""Server lifecycle, configuration, concurrency and the package surface."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import openai
import pytest

import ai.testing
from ai.testing import DEFAULT_MODELS, FakeProviderServer, Fault


async def test_async_context_manager_and_custom_configuration() -> None:
    async with FakeProviderServer(api_key="sk-custom-key", models=["my-model", "org/x"]) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.openai_base_url == server.base_url + "/v1"
        assert server.openrouter_base_url == server.base_url + "/api/v1"
        assert server.anthropic_base_url == server.base_url
        async with openai.AsyncOpenAI(
            base_url=server.openai_base_url, api_key="sk-custom-key"
        ) as client:
            reply = await client.chat.completions.create(
                model="my-model", messages=[{"role": "user", "content": "x"}]
            )
            assert reply.model == "my-model"
            with pytest.raises(openai.NotFoundError):
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "x"}]
                )


def test_default_models_cover_the_documented_set(fake: FakeProviderServer) -> None:
    required = {
        "gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4-turbo", "gpt-3.5-turbo",
        "o3-mini", "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
        "claude-3-haiku-20240307", "claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022",
        "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "openai/gpt-4o-mini",
        "openai/gpt-4o", "anthropic/claude-3-haiku", "anthropic/claude-3.5-sonnet",
        "meta-llama/llama-3.1-8b-instruct", "google/gemini-flash-1.5",
    }  # fmt: skip
    assert required <= set(DEFAULT_MODELS) == fake.models


def test_fixed_port_and_restart() -> None:
    with FakeProviderServer() as first:
        port = first.port
    with FakeProviderServer(port=port) as second:
        assert second.port == port
        assert httpx.get(second.base_url + "/_fake/health").status_code == 200
    with pytest.raises(RuntimeError, match="start"):
        _ = FakeProviderServer().base_url


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="api_key"):
        FakeProviderServer(api_key="")
    with pytest.raises(ValueError, match="model ids"):
        FakeProviderServer(models=["gpt-4o", ""])
    with pytest.raises(ValueError, match="api must be one of"):
        FakeProviderServer().faults.add(Fault.rate_limit(), api="bedrock")


async def test_concurrent_requests_are_all_logged(fake: FakeProviderServer) -> None:
    fake.faults.add(Fault.rate_limit(), every=4)
    headers = {"authorization": f"Bearer {fake.api_key}"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=body) for _ in range(100))
        )
    codes = [r.status_code for r in responses]
    assert codes.count(429) == 25
    assert codes.count(200) == 75
    assert fake.request_count(api="openai") == 100


def test_slow_fault_does_not_block_other_requests(fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.slow_first_byte(1.0), model="gpt-4o")
    headers = {"authorization": f"Bearer {fake.api_key}"}

    async def scenario() -> float:
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as client:
            slow = asyncio.create_task(
                client.post(
                    "/v1/chat/completions",
                    json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
                )
            )
            await asyncio.sleep(0.05)
            loop = asyncio.get_running_loop()
            started = loop.time()
            fast = await client.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y"}]},
            )
            took = loop.time() - started
            assert fast.status_code == 200
            assert (await slow).status_code == 200
            return took

    assert asyncio.run(scenario()) < 0.5


def test_importing_ai_does_not_import_the_server_stack() -> None:
    code = "import ai, sys; assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names() -> None:
    exported = {name for name in dir(ai.testing) if not name.startswith("_")}
    assert set(ai.testing.__all__) <= exported
    for name in ("FakeProviderServer", "Fault", "FaultKind", "RecordedRequest"):
        assert name in ai.testing.__all__


def test_missing_server_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "try:\n"
        "    import ai.testing\n"
        "except ImportError as error:\n"
        "    assert \"pip install 'devora-ai[server]'\" in str(error), error\n"
        "else:\n"
        "    raise SystemExit('ai.testing imported without uvicorn')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
