"""Loopback ports for tests of dead services."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:  # bound then closed, never listening
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
