"""Two gateway processes, one Redis and one key store: a key's limit holds across both."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from ml_ops.gateway import KeyHasher, KeyManager, SQLiteKeyStore
from ml_ops.gateway.key_manager import key_request
from tests.ai.provider_configs import TEST_KEY
from tests.ml_ops.gateway.conftest import KEY_SECRET, UPSTREAM_ENV, free_socket, gateway_config


def _start_worker(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "ml_ops.gateway.standalone:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 401:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"worker at {url} did not start: {log.read_text()}")


@pytest.fixture
def workers(fake, redis_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    config = tmp_path / "devora.yaml"
    keys_db = tmp_path / "keys.db"
    section = gateway_config(fake, keys={"store": str(keys_db)})
    config.write_text(yaml.safe_dump({"gateway": section}))
    env = {
        **os.environ,
        "DEVORA_CONFIG": str(config),
        "DEVORA_EVENT_STORE": str(tmp_path / "events.db"),
        "DEVORA_EXPERIMENTS_STORE": str(tmp_path / "experiments.db"),
        "REDIS_URL": redis_url,
        "DEVORA_KEY_SECRET": KEY_SECRET,
        UPSTREAM_ENV: TEST_KEY,
    }
    env.pop("DEVORA_ADMIN_KEY", None)
    processes, urls = [], []
    for index in range(2):
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        log = tmp_path / f"worker{index}.log"
        processes.append((_start_worker(port, env, log), log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, (process, log) in zip(urls, processes, strict=True):
            _wait_ready(url, process, log)
        yield urls, keys_db
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(10)


def test_a_key_limit_holds_across_two_worker_processes(
    workers: tuple[list[str], Path],
) -> None:
    urls, keys_db = workers

    async def create() -> str:
        store = SQLiteKeyStore(keys_db)
        manager = KeyManager(store, KeyHasher(KEY_SECRET.encode()))
        key, _ = await manager.create(key_request(user="ana", rpm=3))
        await store.aclose()
        return key

    key = asyncio.run(create())
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [
        httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
        for url in (urls[0], urls[1], urls[0], urls[1])
    ]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[1].headers["x-ratelimit-remaining-requests"] == "1"
    assert int(statuses[3].headers["retry-after"]) >= 19
