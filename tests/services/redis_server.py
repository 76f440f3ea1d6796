"""Start, stop and restart a private ``redis-server`` for the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.services.reaper import REAPER

REDIS_SERVER_ENV = "REDIS_SERVER_BIN"
HOST = "127.0.0.1"


class RedisStartError(RuntimeError):
    """redis-server did not come up; the message carries its log tail."""


def find_redis_server() -> str | None:
    """``$REDIS_SERVER_BIN`` if set, else ``redis-server`` from PATH."""
    configured = os.environ.get(REDIS_SERVER_ENV, "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("redis-server")


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def redis_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on ``host:port`` answers PING (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class RedisServer:
    """One redis-server process on a fixed loopback port, in its own temporary folder.

    ``stop()`` and ``start()`` keep the port, so clients configured with :attr:`url` can
    reconnect after a restart. Nothing is persisted (``--save "" --appendonly no``): a
    restart starts with an empty dataset.
    """

    def __init__(self, binary: str, port: int, directory: Path) -> None:
        self.binary = binary
        self.host = HOST
        self.port = port
        self.directory = directory
        self.log_path = directory / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer({self.url!r}, {state})"

    @classmethod
    def launch(
        cls, binary: str | None = None, *, timeout: float = 10.0, attempts: int = 3
    ) -> RedisServer:
        """Start a new server on a free port in a new temporary folder."""
        binary = binary or find_redis_server()
        if binary is None:
            raise RedisStartError("redis-server not found on PATH")
        directory = Path(tempfile.mkdtemp(prefix="devora-redis-")).resolve()
        REAPER.remove_later(directory)
        last: RedisStartError | None = None
        for _ in range(attempts):
            server = cls(binary, free_port(), directory)
            try:
                server.start(timeout=timeout)
            except RedisStartError as exc:
                last = exc
                if "Address already in use" in str(exc):
                    server.log_path.unlink(missing_ok=True)
                    continue  # another process took the port between probe and bind
                break
            return server
        shutil.rmtree(directory, ignore_errors=True)
        assert last is not None
        raise last

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log_path, lines)

    def start(self, timeout: float = 10.0) -> None:
        """Start (again) on the same port and wait until it answers PING."""
        if self.running:
            return
        if redis_ping(self.host, self.port, timeout=0.2):
            raise RedisStartError(
                f"cannot start redis-server on {self.host}:{self.port}: another server already "
                "answers there"
            )
        started = time.perf_counter()
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # a Ctrl-C must not kill it before the finalizers run
            )
        REAPER.watch_pid(self._proc.pid, "redis-server")
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            code = self._proc.poll()
            if code is not None:
                self._forget()
                raise RedisStartError(
                    f"redis-server exited with code {code} while starting on port {self.port}.\n"
                    f"--- log tail ({self.log_path}) ---\n{self.log_tail()}"
                )
            if redis_ping(self.host, self.port):
                break
            if time.monotonic() > deadline:
                self.kill()
                raise RedisStartError(
                    f"redis-server did not answer PING on {self.host}:{self.port} within "
                    f"{timeout:.0f}s.\n--- log tail ({self.log_path}) ---\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        self.startup_seconds = time.perf_counter() - started

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM); SIGKILL if it takes longer than ``timeout``."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._forget()

    def kill(self) -> None:
        """Crash it (SIGKILL): no shutdown, clients see the connection drop."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._forget()

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def close(self) -> None:
        """Stop it and remove its folder. Idempotent."""
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.directory)

    def _forget(self) -> None:
        if self._proc is not None:
            REAPER.forget_pid(self._proc.pid)
        self._proc = None
