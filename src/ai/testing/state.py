"""Everything one fake server remembers, shared by the test thread and the server thread.

Each part guards itself with its own lock, so the test can push faults and read the
request log while requests are being served.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ai.testing.catalogue import ModelCatalogue
from ai.testing.faults import FaultBook
from ai.testing.latency import LatencyTable
from ai.testing.recording import RequestLog
from ai.testing.replies import ReplyQueue
from ai.testing.reply_lengths import OutputLengths


class PromptCache:
    """Anthropic prompt-cache emulation: which cached prefixes exist (no TTL, no minimum).

    The real API caches the whole prompt prefix up to each `cache_control` breakpoint
    (tools, then system, then messages) per model; a later request that repeats a prefix
    reads it. Here a prefix is a hash of that content, kept until `reset()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prefixes: set[str] = set()

    def account(self, breakpoints: Sequence[tuple[str, int]]) -> tuple[int, int]:
        """(cache_read, cache_creation) tokens for a request whose breakpoints are
        (prefix hash, prefix tokens) in prompt order; records the prefixes as cached."""
        if not breakpoints:
            return 0, 0
        with self._lock:
            read = next(
                (tokens for key, tokens in reversed(breakpoints) if key in self._prefixes), 0
            )
            self._prefixes.update(key for key, _ in breakpoints)
        return read, max(0, breakpoints[-1][1] - read)

    def clear(self) -> None:
        """Forget every cached prefix."""
        with self._lock:
            self._prefixes.clear()


@dataclass
class FakeState:
    """The mutable parts of a fake server plus its configuration (`latency` and `lengths`,
    the realistic-upstream settings, survive `reset()`)."""

    api_key: str
    catalogue: ModelCatalogue
    faults: FaultBook = field(default_factory=FaultBook)
    replies: ReplyQueue = field(default_factory=ReplyQueue)
    requests: RequestLog = field(default_factory=RequestLog)
    prompt_cache: PromptCache = field(default_factory=PromptCache)
    latency: LatencyTable = field(default_factory=LatencyTable)
    lengths: OutputLengths | None = None

    def reset(self) -> None:
        """Clear faults, queued replies, the request log and the prompt cache."""
        self.faults.clear()
        self.replies.clear()
        self.requests.clear()
        self.prompt_cache.clear()
