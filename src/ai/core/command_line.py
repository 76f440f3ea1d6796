"""How every `devora` command ends on a known error: one plain line on stderr, status 1.

A `DevoraError` already says what went wrong in words a user can act on; a traceback
would bury that line, so the commands print it alone (whitespace folded to one line).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from ai.errors import DevoraError


def fail(message: str, *, status: int = 1) -> NoReturn:
    """Print `error: message` as one plain line on stderr and exit with `status`."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    raise typer.Exit(status)


@contextmanager
def one_line_errors(*, status: int = 1) -> Iterator[None]:
    """Inside: a `DevoraError` becomes `fail(str(error))`; anything else propagates."""
    try:
        yield
    except DevoraError as error:
        fail(str(error), status=status)
