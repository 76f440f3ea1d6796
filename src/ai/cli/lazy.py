"""Command groups imported only when one of their commands runs.

`devora --help` lists `rag` and `prompts` from a name and a line of help given here; the
modules behind them (numpy, httpx, tiktoken, yaml, the stores) are imported when the
group is resolved to run, or to complete, one of its commands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class LazyGroup:
    """A command group named `name`, the `typer.Typer` at `target` ("module:attribute")."""

    name: str
    target: str
    help: str

    def load(self) -> TyperGroup:
        """Import the group's module and build its Click group."""
        module_name, _, attribute = self.target.partition(":")
        sub_app = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(sub_app, typer.Typer):
            raise TypeError(f"{self.target} is not a typer.Typer")
        group = typer.main.get_group(sub_app)
        group.name = self.name
        return group


class _Placeholder(TyperGroup):
    """Stands in for a lazy group where only its name and help are needed (listings)."""

    def __init__(self, spec: LazyGroup) -> None:
        super().__init__(name=spec.name, help=spec.help, rich_markup_mode=None)
        self.spec = spec


class LazyLoadingGroup(TyperGroup):
    """A Typer group that adds `lazy_groups` as placeholders and loads one when resolved.

    Subclasses set `lazy_groups`; pass the subclass as `typer.Typer(cls=...)`. Help and
    the completion of a group's own name read only the placeholder; running or
    completing inside a group swaps in the real one first.
    """

    lazy_groups: ClassVar[tuple[LazyGroup, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for spec in self.lazy_groups:
            self.commands.setdefault(spec.name, _Placeholder(spec))

    def resolve_command(  # ctx: typer's (vendored or not) click Context
        self, ctx: Any, args: list[str]
    ) -> tuple[str | None, Any, list[str]]:
        """Load the group named by `args[0]` if it is still a placeholder, then resolve."""
        if args and isinstance(placeholder := self.commands.get(args[0]), _Placeholder):
            self.commands[args[0]] = placeholder.spec.load()
        return super().resolve_command(ctx, args)
