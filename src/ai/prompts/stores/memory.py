"""An in-process template store: for tests, notebooks and throwaway managers."""

from __future__ import annotations

import asyncio

from ai.prompts.stores.base import HistoryChange, TemplateStore, added_versions
from ai.prompts.versions import TemplateHistory


class MemoryTemplateStore(TemplateStore):
    """Keeps histories in a dict; nothing survives the process."""

    def __init__(self) -> None:
        self._histories: dict[str, TemplateHistory] = {}
        self._lock = asyncio.Lock()

    async def load(self, name: str) -> TemplateHistory | None:
        return self._histories.get(name)

    async def names(self) -> list[str]:
        return sorted(self._histories)

    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        async with self._lock:
            old = self._histories.get(name)
            new = change(old)
            added_versions(name, old, new)
            self._histories[name] = new
            return new
