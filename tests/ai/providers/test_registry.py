"""The provider registry: named OpenAI-compatible hosts from one data table, and plugins
from other installed packages through the `devora_ai.providers` entry point."""

from __future__ import annotations

import json
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai.calls.config import LLMConfig, resolve_routes
from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.providers.base import ChatRequest
from ai.providers.builtin import register_builtin_providers
from ai.providers.hosts import OPENAI_HOSTS, HostPreset
from ai.providers.mistral_format import MistralChatFormat
from ai.providers.openai_format import OpenAIChatFormat
from ai.providers.registry import (
    ENTRY_POINT_GROUP,
    ProviderPluginWarning,
    ProviderRegistry,
    default_registry,
    load_plugins,
)

PRESETS = {
    # name: (default base URL, key variable, URL variable, key required, price source)
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY", "GROQ_BASE_URL", True, "groq"),
    "mistral": (
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        "MISTRAL_BASE_URL",
        True,
        "mistral",
    ),
    "deepseek": (
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        "DEEPSEEK_BASE_URL",
        True,
        "deepseek",
    ),
    "together": (
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        "TOGETHER_BASE_URL",
        True,
        "together",
    ),
    "fireworks": (
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        "FIREWORKS_BASE_URL",
        True,
        "fireworks",
    ),
    "ollama": ("http://localhost:11434/v1", "OLLAMA_API_KEY", "OLLAMA_BASE_URL", False, None),
    "vllm": ("http://localhost:8000/v1", "VLLM_API_KEY", "VLLM_BASE_URL", False, None),
}


# --- the host presets --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_registered_on_the_openai_wire_format(name: str) -> None:
    spec = default_registry().get(name)
    url, key_env, url_env, key_required, price_source = PRESETS[name]
    assert (spec.default_base_url, spec.api_key_env, spec.base_url_env) == (url, key_env, url_env)
    assert (spec.api_key_required, spec.price_source) == (key_required, price_source)
    assert isinstance(spec.wire, OpenAIChatFormat)
    assert spec.auth_headers("k") == {"Authorization": "Bearer k"}


def test_the_built_ins_keep_their_settings() -> None:
    registry = default_registry()
    assert registry.get("openai").default_base_url == "https://api.openai.com/v1"
    assert registry.get("openrouter").api_key_env == "OPENROUTER_API_KEY"
    compatible = registry.get("openai_compatible")
    assert (compatible.api_key_required, compatible.base_url_env) == (
        False,
        "OPENAI_COMPATIBLE_BASE_URL",
    )
    assert registry.get("anthropic").price_source == "anthropic"


def test_every_price_source_is_a_genai_prices_provider() -> None:
    from genai_prices.data import providers

    ids = {provider.id for provider in providers}
    sources = {spec.price_source for spec in default_registry()} - {None}
    assert sources <= ids


def test_one_row_per_host_and_no_duplicates() -> None:
    names = [host.name for host in OPENAI_HOSTS]
    assert len(names) == len(set(names))
    assert set(PRESETS) <= set(names)
    assert HostPreset("x", "http://x/v1", "ACME").api_key_env == "ACME_API_KEY"


@pytest.mark.parametrize("name", ["groq", "mistral", "deepseek", "together", "fireworks"])
def test_llm_config_takes_a_preset_name(name: str) -> None:
    url, key_env, _, _, _ = PRESETS[name]
    config = LLMConfig(provider=name, model="some-model")
    [route] = resolve_routes(config, registry=default_registry(), environ={key_env: "k-1"})
    assert (route.provider, route.base_url) == (name, url)
    assert route.chat_url == f"{url}/chat/completions"
    assert route.headers["Authorization"] == "Bearer k-1"


def test_a_hosted_preset_without_its_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="GROQ_API_KEY"):
        resolve_routes(
            LLMConfig(provider="groq", model="m"), registry=default_registry(), environ={}
        )


@pytest.mark.parametrize("name", ["ollama", "vllm"])
def test_local_servers_need_no_key_and_take_a_url_variable(name: str) -> None:
    _, _, url_env, _, _ = PRESETS[name]
    config = LLMConfig(provider=name, model="llama3.1")
    [route] = resolve_routes(
        config, registry=default_registry(), environ={url_env: "http://gpu-box:9000/v1/"}
    )
    assert route.base_url == "http://gpu-box:9000/v1"
    assert "Authorization" not in route.headers


def test_provider_names_are_case_insensitive() -> None:
    registry = default_registry()
    assert registry.get("Groq") is registry.get("groq")
    assert "VLLM" in registry
    with pytest.raises(ConfigurationError, match=r"Known providers: .*groq"):
        registry.get("grok")


def test_mistral_gets_no_stream_options() -> None:
    request = ChatRequest(
        model="mistral-small-latest", messages=[], temperature=None, max_tokens=None, stream=True
    )
    assert "stream_options" in OpenAIChatFormat().request_body(request)
    body = MistralChatFormat().request_body(request)
    assert body["stream"] is True and "stream_options" not in body
    asked = ChatRequest(
        model="m",
        messages=[],
        temperature=None,
        max_tokens=None,
        stream=True,
        extra={"stream_options": {"include_usage": False}},
    )
    assert MistralChatFormat().request_body(asked)["stream_options"] == {"include_usage": False}
    assert isinstance(default_registry().get("mistral").wire, MistralChatFormat)


async def test_a_call_on_a_preset_goes_to_its_url_with_its_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_chat_answer("llama-3.3-70b-versatile", "hi"))

    config = LLMConfig(provider="groq", model="llama-3.3-70b-versatile", max_retries=0)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the price may be unknown without the host's list
        async with LLMService(config, http_client=client, environ={"GROQ_API_KEY": "gk"}) as llm:
            text, stats = await llm.complete(messages=[{"role": "user", "content": "hello"}])
    await client.aclose()
    assert text == "hi" and stats.provider == "groq"
    [request] = seen
    assert str(request.url) == "https://api.groq.com/openai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer gk"


def _chat_answer(model: str, text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


# --- plugins through the entry point -------------------------------------------------------

PLUGIN_SOURCE = '''
"""A third-party package: one new host on devora-ai's OpenAI format, one new wire format."""

import dataclasses
import json

from ai.providers.base import ChatResult, ErrorDetails, ProviderSpec, StreamDecoder, WireFormat
from ai.core.usage import Usage


class ShoutFormat(WireFormat):
    """A made-up API shape: POST /shout {"say": ...} -> {"shouted": ..., "n": ...}."""

    name = "shout"
    chat_path = "/shout"

    def request_body(self, request):
        return {"say": request.messages[-1]["content"], "model": request.model}

    def parse_response(self, data):
        return ChatResult(text=data["shouted"], model=data.get("model"),
                          usage=Usage(input_tokens=data["n"], output_tokens=data["n"]))

    def stream_decoder(self) -> StreamDecoder:
        raise NotImplementedError

    def error_details(self, data):
        return ErrorDetails(message=str(data)) if isinstance(data, dict) else None


def register(registry):
    openai = registry.get("openai")
    registry.register(dataclasses.replace(
        openai, name="acme-cloud", default_base_url="https://llm.acme.example/v1",
        api_key_env="ACME_API_KEY", base_url_env="ACME_BASE_URL", price_source=None))
    registry.register(ProviderSpec(
        name="shout", wire=ShoutFormat(), default_base_url="https://shout.example",
        api_key_env="SHOUT_KEY", base_url_env="SHOUT_URL",
        auth_headers=lambda key: {"x-shout-key": key}))


def broken(registry):
    raise RuntimeError("this plugin is broken")
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`acme-devora-plugin` installed into a directory on sys.path, as pip --target would:
    the package and its .dist-info with an entry_points.txt, nothing else."""
    site = tmp_path / "site"
    package = site / "acme_devora_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist_info = site / "acme_devora_plugin-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-devora-plugin\nVersion: 0.1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nacme = acme_devora_plugin:register\n"
    )
    (dist_info / "RECORD").write_text("")
    monkeypatch.syspath_prepend(str(site))
    default_registry.cache_clear()
    yield site
    default_registry.cache_clear()  # later tests get a registry without the plugin
    sys.modules.pop("acme_devora_plugin", None)


def test_an_installed_plugin_adds_a_host_and_a_wire_format(installed_plugin: Path) -> None:
    registry = default_registry()
    assert "acme-cloud" in registry and "shout" in registry
    assert "groq" in registry  # the built-ins are still there
    routes = resolve_routes(
        LLMConfig(provider="acme-cloud", model="acme-1", fallback_models=[]),
        registry=registry,
        environ={"ACME_API_KEY": "ak"},
    )
    assert routes[0].chat_url == "https://llm.acme.example/v1/chat/completions"
    assert routes[0].headers["Authorization"] == "Bearer ak"


async def test_a_plugin_wire_format_serves_a_call(installed_plugin: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        said = json.loads(request.content)["say"]
        return httpx.Response(200, json={"shouted": said.upper(), "model": "loud-1", "n": 2})

    config = LLMConfig(provider="shout", model="loud-1", max_retries=0)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # loud-1 has no price
        async with LLMService(config, http_client=client, environ={"SHOUT_KEY": "sk"}) as llm:
            text, stats = await llm.complete(messages=[{"role": "user", "content": "hello"}])
    await client.aclose()
    assert text == "HELLO"
    assert (stats.provider, stats.input_tokens, stats.output_tokens) == ("shout", 2, 2)
    [request] = seen
    assert str(request.url) == "https://shout.example/shout"
    assert request.headers["x-shout-key"] == "sk"


def test_a_broken_plugin_is_skipped_with_a_warning(installed_plugin: Path) -> None:
    dist_info = installed_plugin / "acme_devora_plugin-0.1.0.dist-info"
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nacme = acme_devora_plugin:register\n"
        "broken = acme_devora_plugin:broken\nmissing = no_such_module:register\n"
    )
    registry = ProviderRegistry()
    register_builtin_providers(registry)
    with pytest.warns(ProviderPluginWarning) as caught:
        loaded = load_plugins(registry)
    assert loaded == ["acme"]
    assert "acme-cloud" in registry
    messages = " ".join(str(w.message) for w in caught)
    assert "'broken'" in messages and "this plugin is broken" in messages
    assert "'missing'" in messages
