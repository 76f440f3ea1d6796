"""`FakeProviderServer`: the fakes on a real loopback socket, in a background thread.

uvicorn runs the Starlette app on its own event loop in a daemon thread, on a socket bound
before the thread starts (port 0 picks a free one, with no race), and the context manager
returns once uvicorn is accepting connections. Real sockets matter: the clients' connection
pooling, timeouts, SSE parsing and retry logic are what the tests exercise.

uvicorn gets `DroppingH11Protocol`, an `H11Protocol` that offers the app a way to close the
TCP connection (`wire.DROP_CONNECTION`); the `disconnect` and `stream_cut` faults need it,
because ASGI itself can only answer, and uvicorn turns app exceptions into 500s.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from ai.testing.app import build_app
from ai.testing.catalogue import Api, ModelCatalogue
from ai.testing.faults import FaultBook
from ai.testing.latency import LatencyTable, ModelLatency
from ai.testing.recording import RecordedRequest
from ai.testing.replies import ReplyQueue
from ai.testing.reply_lengths import OutputLengths
from ai.testing.state import FakeState
from ai.testing.token_counting import warm_up
from ai.testing.wire import DROP_CONNECTION, SERVER_STOPPING

DEFAULT_API_KEY = "sk-devora-fake"
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


class DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus `scope[DROP_CONNECTION]`, which closes the socket, and
    `scope[SERVER_STOPPING]`, an event set when uvicorn starts shutting down.

    `transport.close()` flushes what was already written and then sends FIN: before any
    response bytes the client sees "server disconnected without sending a response"; in the
    middle of a body it sees an incomplete message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app
        self._stopping = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope[DROP_CONNECTION] = self._drop_connection
            scope[SERVER_STOPPING] = self._stopping
            await inner(scope, receive, send)

        self.app = app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Also switch Nagle off: headers and body go out as separate writes."""
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown, which first tells endless answers to stop."""
        self._stopping.set()
        super().shutdown()

    def _drop_connection(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppingH11Protocol,
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
        timeout_graceful_shutdown=1,
        server_header=False,
    )


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class LoopbackServer:
    """A Starlette app served by uvicorn on a loopback port in a daemon thread.

    The lifecycle every fake shares: `start()`/`stop()`, `with` and `async with`, and the
    bound `port`. Subclasses build `self._app` and call `_init_server(host, port)`.
    """

    _thread_name = "devora-loopback"
    _app: Starlette

    def _init_server(self, host: str, port: int) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _before_start(self) -> None:
        """Hook for work to do once before binding (nothing by default)."""

    def start(self) -> Self:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"this {type(self).__name__} is already running")
        self._before_start()
        sock = _bind(self._host, self._requested_port)
        self._port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self._app, self._host, self._port))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._thread_name, daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._server = self._thread = None
                sock.close()
                raise RuntimeError(
                    f"{type(self).__name__} did not start on {_base_url(self._host, self._port)}"
                )
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Shut uvicorn down (open connections are closed) and join the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_S)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError(
                f"start the {type(self).__name__} first (use it as a context manager)"
            )
        return self._port


class FakeProviderServer(LoopbackServer):
    """Loopback fakes of the OpenAI, Anthropic and OpenRouter HTTP APIs.

    Use as `with FakeProviderServer() as server:` (or `async with`); point SDKs at
    `openai_base_url`, `anthropic_base_url` or `openrouter_base_url` with `api_key`. Inject
    failures with `faults`, script answers with `replies`, assert on `requests`. For a
    realistic upstream, give models a speed (`latency={"gpt-4o": ModelLatency(0.45, 60)}`)
    and answers a length model (`lengths=OutputLengths(...)`); both can change later.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        models: Iterable[str] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        latency: Mapping[str, ModelLatency] | None = None,
        lengths: OutputLengths | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be a non-empty string")
        self._state = FakeState(
            api_key=api_key,
            catalogue=ModelCatalogue.of(models),
            latency=LatencyTable(latency),
            lengths=lengths,
        )
        self._app = build_app(self._state)
        self._init_server(host, port)

    _thread_name = "devora-fake-provider"

    def _before_start(self) -> None:
        warm_up()

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return _base_url(self._host, self.port)

    @property
    def openai_base_url(self) -> str:
        """Base URL for the OpenAI SDK (`.../v1`)."""
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for the Anthropic SDK (it appends `/v1/messages`)."""
        return self.base_url

    @property
    def openrouter_base_url(self) -> str:
        """Base URL for OpenRouter (`.../api/v1`), used with the OpenAI SDK."""
        return self.base_url + "/api/v1"

    # -- state -----------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key every fake API accepts."""
        return self._state.api_key

    @property
    def models(self) -> frozenset[str]:
        """The model ids served."""
        return self._state.catalogue.models

    @property
    def app(self) -> Starlette:
        """The ASGI app (drop-connection faults need this module's uvicorn protocol)."""
        return self._app

    @property
    def faults(self) -> FaultBook:
        """Fault rules: `push(fault)`, `add(fault, times=, model=, api=, every=)`, `clear()`."""
        return self._state.faults

    @property
    def replies(self) -> ReplyQueue:
        """Scripted answers: `push(text)`."""
        return self._state.replies

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        return self._state.requests.snapshot()

    @property
    def latency(self) -> LatencyTable:
        """Per-model speed: `set(model, ModelLatency(ttft, tokens_per_second))`, `clear()`."""
        return self._state.latency

    @property
    def lengths(self) -> OutputLengths | None:
        """The output length model (None: the usual short answers); assignable."""
        return self._state.lengths

    @lengths.setter
    def lengths(self, value: OutputLengths | None) -> None:
        if value is not None and not isinstance(value, OutputLengths):
            raise TypeError(f"lengths must be OutputLengths or None, got {type(value).__name__}")
        self._state.lengths = value

    def request_count(self, model: str | None = None, api: Api | str | None = None) -> int:
        """How many requests matched `model` and `api` (None matches any)."""
        return self._state.requests.count(model=model, api=api)

    def reset(self) -> None:
        """Clear faults, replies, the request log and the Anthropic prompt cache (latency and
        lengths are configuration and stay)."""
        self._state.reset()


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str = DEFAULT_API_KEY,
    models: Iterable[str] | None = None,
) -> None:
    """Serve the fakes in the foreground until Ctrl-C or SIGTERM (the `devora fake-provider`
    command). Prints the base URLs; the key is printed only if it is the default fake one."""
    fake = FakeProviderServer(api_key=api_key, models=models, port=port, host=host)
    warm_up()
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    base = _base_url(host, bound_port)
    key_note = api_key if api_key == DEFAULT_API_KEY else "(the key given with --api-key)"
    print(
        f"devora fake provider listening on {base}\n"
        f"  OpenAI:     {base}/v1\n"
        f"  Anthropic:  {base}\n"
        f"  OpenRouter: {base}/api/v1\n"
        f"  Faults:     POST {base}/_fake/faults, requests: GET {base}/_fake/requests\n"
        f"  API key:    {key_note}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    run_until_stopped(fake.app, host, sock, "devora fake provider")


def run_until_stopped(app: Starlette, host: str, sock: socket.socket, what: str) -> None:
    """Serve `app` on the bound `sock` in the foreground until Ctrl-C or SIGTERM."""
    server = uvicorn.Server(_config(app, host, sock.getsockname()[1]))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print(f"{what} stopped.", file=sys.stderr, flush=True)
