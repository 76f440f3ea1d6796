"""What a client sees when the upstream fails: the status says whose fault it is (the
upstream's, the gateway's configuration, or the request), through the official SDK."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import openai
import pytest

from ai.core.records import Outcome
from ai.testing import FakeProviderServer, Fault
from tests.ml_ops.gateway.conftest import UPSTREAM_ENV, RunningGateway, gateway_config

HELLO = [{"role": "user", "content": "hi"}]


def client(gateway: RunningGateway) -> openai.OpenAI:
    key, _ = gateway.create_key()
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def failure(call: Callable[[], Any]) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("stream", [False, True])
def test_a_refused_connection_is_502_unreachable_not_a_timeout(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer, stream: bool
) -> None:
    dead = {"base_url": f"http://127.0.0.1:{closed_port()}/v1", "api_key_env": UPSTREAM_ENV}
    gateway = serve_gateway(
        providers={**gateway_config(fake)["providers"], "openai_compatible": dead},
        models={
            "dead": {"provider": "openai_compatible", "model": "m", "settings": {"max_retries": 0}}
        },
    )
    sdk = client(gateway)
    error = failure(
        lambda: sdk.chat.completions.create(model="dead", messages=HELLO, stream=stream)  # type: ignore[call-overload]
    )
    assert error.status_code == 502
    assert error.body["code"] == "upstream_unreachable"  # type: ignore[index]
    assert "timeout" not in error.message.lower()
    (record,) = gateway.wait_for_records(1)
    assert record.error_type == "connection"


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_hangs_up_is_502_unreachable(
    gateway: RunningGateway, fake: FakeProviderServer, stream: bool
) -> None:
    fake.faults.add(Fault.disconnect(), times=None)
    sdk = client(gateway)
    error = failure(
        lambda: sdk.chat.completions.create(model="fast", messages=HELLO, stream=stream)  # type: ignore[call-overload]
    )
    assert (error.status_code, error.body["code"]) == (502, "upstream_unreachable")  # type: ignore[index]
    assert "did not answer in time" not in error.message


def test_a_real_timeout_stays_504(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = serve_gateway(
        models={
            "slow": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "settings": {"max_retries": 0, "timeout": 0.5},
            }
        }
    )
    fake.faults.add(Fault.slow_first_byte(5), times=None)
    error = failure(lambda: client(gateway).chat.completions.create(model="slow", messages=HELLO))
    assert (error.status_code, error.body["code"]) == (504, "upstream_timeout")  # type: ignore[index]


def test_a_model_the_upstream_does_not_know_is_502_naming_the_alias(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = serve_gateway(
        models={"solo": {"provider": "openai", "model": "gpt-4o-mini", "settings": {}}}
    )
    fake.faults.add(Fault.unknown_model(), times=None)
    error = failure(lambda: client(gateway).chat.completions.create(model="solo", messages=HELLO))
    assert not isinstance(error, openai.BadRequestError)
    assert (error.status_code, error.body["code"]) == (502, "upstream_model_not_found")  # type: ignore[index]
    assert "`solo`" in error.message and "gpt-4o-mini" in error.message
    assert "administrator" in error.message


@pytest.mark.parametrize("stream", [False, True])
def test_a_primary_outage_is_not_masked_by_a_fallbacks_404(
    gateway: RunningGateway, fake: FakeProviderServer, stream: bool
) -> None:
    fake.faults.add(Fault.server_error(500), times=None, model="gpt-4o-mini")
    fake.faults.add(Fault.unknown_model(), times=None, model="gpt-4o")
    sdk = client(gateway)
    error = failure(
        lambda: sdk.chat.completions.create(model="fast", messages=HELLO, stream=stream)  # type: ignore[call-overload]
    )
    assert (error.status_code, error.body["code"]) == (502, "upstream_error")  # type: ignore[index]
    assert "Also failed: gpt-4o (openai): model_not_found, HTTP 404" in error.message
    (record,) = gateway.wait_for_records(1)
    assert record.outcome is not Outcome.SUCCESS


def test_the_upstream_refusing_the_request_itself_stays_400(
    gateway: RunningGateway, fake: FakeProviderServer
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).chat.completions.create(
            model="claude", messages=HELLO, extra_body={"not_an_anthropic_field": 1}
        )
    assert caught.value.body["code"] == "upstream_rejected"  # type: ignore[index]
    assert "not_an_anthropic_field" in caught.value.message
