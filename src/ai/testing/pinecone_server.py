"""`FakePineconeServer`: the Pinecone fake on a real loopback socket, in a background thread.

Runs exactly like `FakeProviderServer` (same socket binding, same uvicorn protocol with
the drop-connection hook, so the same faults work) and serves, on one port, the control
plane (`/indexes`) and the data plane of the index it was started with (at the root),
plus any index created later (at `/index/{name}`).

    with FakePineconeServer(dimension=8, metric="cosine") as fake:
        pc = pinecone.Pinecone(api_key=fake.api_key, host=fake.url)   # control plane
        index = pc.Index(host=fake.url)                                # data plane
        fake.faults.push(Fault.rate_limit(retry_after=0), operation="query")
"""

from __future__ import annotations

from starlette.applications import Starlette

from ai.testing.pinecone_api import build_pinecone_app
from ai.testing.pinecone_index import FakeIndex, IndexRegistry, Metric
from ai.testing.pinecone_state import (
    SUPPORTED_FAULTS,
    PineconeFaults,
    PineconeOperation,
    PineconeRequest,
    PineconeState,
)
from ai.testing.server import LoopbackServer, _base_url, _bind, run_until_stopped

DEFAULT_PINECONE_KEY = "pcsk_devora_fake_key"
DEFAULT_INDEX_NAME = "devora-embeddings"
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


def _metric(metric: str) -> Metric:
    """Pinecone's metric names, plus devora's `dot` for `dotproduct`."""
    try:
        return Metric("dotproduct" if metric == "dot" else metric)
    except ValueError:
        raise ValueError(
            f"metric must be 'cosine', 'dotproduct' (or 'dot') or 'euclidean', got {metric!r}"
        ) from None


class FakePineconeServer(LoopbackServer):
    """A loopback fake of Pinecone's REST API with one index ready to use.

    Use as `with FakePineconeServer(dimension=...) as fake:` (or `async with`). Point the
    official SDK's control plane (`Pinecone(host=fake.url)`) or any data-plane client
    (`index_host=fake.url`) at it with `fake.api_key`. Inject failures with `faults`,
    assert on `requests`, empty everything with `reset()`.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_PINECONE_KEY,
        index_name: str = DEFAULT_INDEX_NAME,
        dimension: int = 1536,
        metric: str = "cosine",
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not 1 <= dimension <= 20_000:
            raise ValueError(f"dimension must be within 1..20000, got {dimension}")
        default = FakeIndex(index_name, dimension, _metric(metric))
        self._state = PineconeState(api_key=api_key, indexes=IndexRegistry(default))
        self._app = build_pinecone_app(self._state)
        self._init_server(host, port)

    _thread_name = "devora-fake-pinecone"

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the control plane, and the default index's data plane."""
        return _base_url(self._host, self.port)

    @property
    def index_host(self) -> str:
        """The data-plane host of the index the fake started with (same as `url`)."""
        return self.url

    def host_for(self, index_name: str) -> str:
        """The data-plane host of any index on this fake."""
        if index_name == self._state.indexes.default.name:
            return self.url
        return f"{self.url}/index/{index_name}"

    # -- state -----------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key the fake accepts in the `Api-Key` header."""
        return self._state.api_key

    @property
    def index_name(self) -> str:
        """The name of the index the fake started with."""
        return self._state.indexes.default.name

    @property
    def dimension(self) -> int:
        """The default index's dimension."""
        return self._state.indexes.default.dimension

    @property
    def app(self) -> Starlette:
        """The ASGI app (drop-connection faults need this module's uvicorn protocol)."""
        return self._app

    @property
    def faults(self) -> PineconeFaults:
        """Fault rules: `push(fault, operation=)`, `add(fault, times=, operation=, every=)`."""
        return self._state.faults

    @property
    def requests(self) -> list[PineconeRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        return self._state.requests.snapshot()

    def request_count(self, operation: PineconeOperation | str | None = None) -> int:
        """How many requests were for `operation` (None counts all)."""
        return self._state.requests.count(operation)

    def vector_count(self, namespace: str = "", index_name: str | None = None) -> int:
        """How many vectors a namespace holds (straight from storage, no request made)."""
        index = self._state.indexes.get(index_name or self.index_name)
        if index is None:
            raise KeyError(f"no index named {index_name!r}")
        return index.counts().get("" if namespace == "__default__" else namespace, 0)

    def reset(self) -> None:
        """Clear faults, the request log, every vector and indexes created since start."""
        self._state.reset()


def serve_pinecone_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8766,
    api_key: str = DEFAULT_PINECONE_KEY,
    index_name: str = DEFAULT_INDEX_NAME,
    dimension: int = 1536,
    metric: str = "cosine",
) -> None:
    """Serve the Pinecone fake in the foreground until Ctrl-C (`devora fake-pinecone`).
    The key is printed only when it is the default fake one."""
    fake = FakePineconeServer(
        api_key=api_key, index_name=index_name, dimension=dimension, metric=metric, host=host
    )
    sock = _bind(host, port)
    base = _base_url(host, sock.getsockname()[1])
    key_note = api_key if api_key == DEFAULT_PINECONE_KEY else "(the key given with --api-key)"
    kinds = ", ".join(sorted(str(kind) for kind in SUPPORTED_FAULTS))
    print(
        f"devora fake Pinecone listening on {base}\n"
        f"  Control plane: {base} (Pinecone(host=...)), index {index_name!r} "
        f"({dimension}-d, {metric})\n"
        f"  Index host:    {base}\n"
        f"  Faults:        POST {base}/_fake/faults ({kinds})\n"
        f"  Requests:      GET {base}/_fake/requests\n"
        f"  API key:       {key_note}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    run_until_stopped(fake.app, host, sock, "devora fake Pinecone")
