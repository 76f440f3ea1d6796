"""`async with` for everything that holds connections: one definition, `aclose` to close.

The name follows httpx and redis-py (`aclose`), so a user closes every devora-ai object
the same way.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncClosing:
    """Mixin: `async with obj:` calls `await obj.aclose()` on the way out."""

    async def aclose(self) -> None:
        """Release what the object holds; subclasses override."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
