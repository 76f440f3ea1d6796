"""`devora serve`, in the tour's own process: the gateway under `/v1` and the dashboard
under `/`, over one runtime, served by uvicorn on the tour's event loop.

It composes the same public parts as `ml_ops.serve.create_app` (`create_gateway_app`,
`DashboardManager`, `dashboard_routes`, `ServeApp`) with one more guard on the gateway's
services (`PromptTagsFromMetadata`, for the prompt experiment), but starts and stops them
itself rather than through an ASGI lifespan, on the tour's event loop.

uvicorn leaves signals alone here (`_QuietServer`): Ctrl-C is the tour's to handle, so
it can stop the traffic, print what it has and close everything in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Iterator, Mapping, Sequence

import uvicorn
from starlette.middleware import Middleware

from ai.core.guards import CallGuard
from ai.llm_service import LLMService
from ml_ops.dashboard import DashboardManager, DashboardSettings, dashboard_routes
from ml_ops.dashboard.access import SecurityHeaders
from ml_ops.dashboard.api import ManagerSlot
from ml_ops.gateway import Gateway, GatewayConfig, create_gateway_app
from ml_ops.runtime import Runtime
from ml_ops.serve.app import ServeApp
from ml_ops.web import AdminKey

_START_TIMEOUT_S = 15.0


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers (the tour handles Ctrl-C)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> tuple[socket.socket, bool]:
    """A listening socket on `port`, or on a free one when it is taken; the second value
    says whether it fell back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        return sock, False
    except OSError as error:
        if error.errno != errno.EADDRINUSE or port == 0:
            sock.close()
            raise
    sock.bind((host, 0))
    return sock, True


class DemoServer:
    """The gateway and the dashboard over `runtime`, served on `sock` (started by
    `start`, stopped by `aclose`; the runtime stays the caller's)."""

    def __init__(
        self,
        runtime: Runtime,
        config: GatewayConfig,
        *,
        admin_key: AdminKey,
        guards: Sequence[CallGuard],
        environ: Mapping[str, str],
        sock: socket.socket,
    ) -> None:
        self.runtime = runtime
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.gateway: Gateway = create_gateway_app(
            config,
            runtime=runtime,
            admin_key=admin_key,
            cost_tracker=runtime.cost_tracker,
            cache=runtime.cache,
            guards=guards,
            environ=environ,
        )
        self._slot = ManagerSlot()
        settings = DashboardSettings(
            host=host, port=port, title="devora demo", default_window="all"
        )
        app = ServeApp(
            routes=[*self.gateway.routes, *dashboard_routes(self._slot, admin_key, settings)],
            middleware=[Middleware(SecurityHeaders)],
        )
        app.direct_paths = self.gateway.direct_paths
        config_ = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = _QuietServer(config_)
        self._task: asyncio.Task[None] | None = None

    @property
    def services(self) -> dict[str, LLMService]:
        """The LLM service behind each chat alias (started gateway only)."""
        return self.gateway.services

    async def start(self) -> DemoServer:
        """Start the gateway, build the dashboard's manager, and accept connections."""
        await self.gateway.start()
        self._slot.manager = DashboardManager.from_runtime(
            self.runtime, cache=self.runtime.cache, services=self.services
        )
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_S
        while not self._server.started:
            if self._task.done() or asyncio.get_running_loop().time() > deadline:
                await self.aclose()
                raise RuntimeError(f"the tour's server did not start on {self.base_url}")
            await asyncio.sleep(0.01)
        return self

    async def aclose(self) -> None:
        """Stop serving, then close the gateway (the runtime is the caller's)."""
        if self._task is not None:
            self._server.should_exit = True
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._slot.manager = None
        await self.gateway.aclose()
        self._sock.close()


__all__ = ["DemoServer", "bind"]
