"""What one fake Pinecone remembers besides vectors: faults, the request log, the key.

Faults reuse `ai.testing.faults` (the same `Fault` values as the provider fakes, in the
same `FaultBook`); here a rule is scoped by Pinecone *operation* (`"query"`, `"upsert"`,
...) instead of by API and model.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ai.testing.catalogue import Api
from ai.testing.faults import Fault, FaultBook, FaultKind, FaultRule, fault_rule_from_json
from ai.testing.pinecone_index import IndexRegistry


class PineconeOperation(StrEnum):
    """Every operation the fake serves; faults and the request log match on these."""

    UPSERT = "upsert"
    QUERY = "query"
    FETCH = "fetch"
    FETCH_BY_METADATA = "fetch_by_metadata"
    DELETE = "delete"
    DESCRIBE_INDEX_STATS = "describe_index_stats"
    LIST_NAMESPACES = "list_namespaces"
    DESCRIBE_NAMESPACE = "describe_namespace"
    DELETE_NAMESPACE = "delete_namespace"
    CREATE_INDEX = "create_index"
    DESCRIBE_INDEX = "describe_index"
    LIST_INDEXES = "list_indexes"
    DELETE_INDEX = "delete_index"


# Kinds that mean something for a JSON request/response API. Stream events and unknown
# models do not exist here.
SUPPORTED_FAULTS = frozenset(
    {
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.OVERLOADED,
        FaultKind.DISCONNECT,
        FaultKind.SLOW_FIRST_BYTE,
        FaultKind.STREAM_CUT,
        FaultKind.MALFORMED_JSON,
        FaultKind.AUTH_ERROR,
    }
)
# FaultBook matches rules on (api, model). Pinecone rules never set an api, so any member
# can stand in for it; the operation name travels in the model slot.
_ANY_API = Api.OPENAI


def _operation(operation: PineconeOperation | str | None) -> str | None:
    if operation is None:
        return None
    try:
        return str(PineconeOperation(operation))
    except ValueError:
        allowed = ", ".join(str(op) for op in PineconeOperation)
        raise ValueError(f"operation must be one of {allowed} or None, got {operation!r}") from None


def _checked(fault: Fault) -> Fault:
    if fault.kind not in SUPPORTED_FAULTS:
        allowed = ", ".join(sorted(str(kind) for kind in SUPPORTED_FAULTS))
        raise ValueError(f"{fault.kind} does not apply to the Pinecone fake; use one of {allowed}")
    return fault


def _with_operation(described: dict[str, Any]) -> dict[str, Any]:
    described.pop("api", None)
    described["operation"] = described.pop("model", None)
    return described


def describe_rule(rule: FaultRule) -> dict[str, Any]:
    """A rule's JSON form, with `operation` in place of the book's `model` and `api`."""
    return _with_operation(rule.describe())


class PineconeFaults:
    """Fault rules for the Pinecone fake, scoped by operation (None matches every one)."""

    def __init__(self) -> None:
        self._book = FaultBook()

    def push(self, fault: Fault, *, operation: PineconeOperation | str | None = None) -> None:
        """Apply `fault` to the next matching request, once."""
        self.add(fault, times=1, operation=operation)

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        operation: PineconeOperation | str | None = None,
        every: int = 1,
    ) -> FaultRule:
        """A rule: `times=None` fires on every due request, `every=N` on each Nth match."""
        return self._book.add(
            _checked(fault), times=times, model=_operation(operation), every=every
        )

    def add_json(self, data: object) -> FaultRule:
        """Parse `POST /_fake/faults` (`{"kind": ..., "operation": "query", "times": 1}`)."""
        if not isinstance(data, Mapping):
            raise ValueError("the body must be a JSON object with at least a 'kind'")
        if "model" in data or "api" in data:
            raise ValueError("Pinecone faults are scoped by 'operation', not 'model' or 'api'")
        fields = {key: value for key, value in data.items() if key != "operation"}
        fields["model"] = _operation(data.get("operation"))
        rule = fault_rule_from_json(fields)
        _checked(rule.fault)
        return self._book.add_rule(rule)

    def take(self, operation: PineconeOperation) -> Fault | None:
        """The fault for this request, if a rule fires."""
        return self._book.take(_ANY_API, str(operation))

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        return self._book.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The rules as JSON-ready dicts (see `describe_rule`)."""
        return [_with_operation(rule) for rule in self._book.describe()]

    def __len__(self) -> int:
        return len(self._book)


@dataclass(frozen=True, slots=True)
class PineconeRequest:
    """One request as the fake received it (the `Api-Key` masked)."""

    operation: PineconeOperation
    method: str
    path: str
    index: str | None
    headers: dict[str, str]
    body: Any
    fault: FaultKind | None = None
    authenticated: bool = True

    @property
    def api_version(self) -> str | None:
        """The `X-Pinecone-API-Version` header the client sent, if any."""
        return self.headers.get("x-pinecone-api-version")

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_fake/requests`."""
        return {
            "operation": str(self.operation),
            "method": self.method,
            "path": self.path,
            "index": self.index,
            "headers": self.headers,
            "body": self.body,
            "fault": None if self.fault is None else str(self.fault),
            "authenticated": self.authenticated,
        }


class PineconeRequestLog:
    """Thread-safe list of `PineconeRequest`s, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[PineconeRequest] = []

    def append(self, request: PineconeRequest) -> None:
        """Store one request (called from the server thread)."""
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[PineconeRequest]:
        """A copy of the log."""
        with self._lock:
            return list(self._requests)

    def count(self, operation: PineconeOperation | str | None = None) -> int:
        """How many requests were for `operation` (None counts all)."""
        wanted = _operation(operation)
        with self._lock:
            return sum(1 for r in self._requests if wanted is None or r.operation == wanted)

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._requests.clear()


@dataclass
class PineconeState:
    """Configuration plus the mutable parts of one fake Pinecone project."""

    api_key: str
    indexes: IndexRegistry
    faults: PineconeFaults = field(default_factory=PineconeFaults)
    requests: PineconeRequestLog = field(default_factory=PineconeRequestLog)

    def reset(self) -> None:
        """Clear faults, the log, every vector, and indexes created since the start."""
        self.faults.clear()
        self.requests.clear()
        self.indexes.reset()
