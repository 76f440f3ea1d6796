"""Run the real `devora` command in a subprocess, its stdout a pipe or a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from pathlib import Path


def devora_command() -> list[str]:
    """The installed console script, else `python -m ai.cli`."""
    script = Path(sys.executable).with_name("devora")
    if script.exists():
        return [str(script)]
    found = shutil.which("devora")
    return [found] if found else [sys.executable, "-m", "ai.cli"]


def child_env(
    extra: Mapping[str, str] | None = None, *, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """This environment without provider keys (so nothing reaches a real API) plus `extra`."""
    keys = ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEVORA_PROMPTS_STORE")
    env = {k: v for k, v in os.environ.items() if k not in keys + drop}
    env.update(extra or {})
    return env


def run_devora(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """`devora args...` with stdout and stderr as pipes, as in `devora ... | cat`."""
    return subprocess.run(
        [*devora_command(), *args],
        capture_output=True,
        cwd=cwd,
        env=dict(env) if env is not None else child_env(),
        timeout=timeout,
        check=False,
    )


def run_devora_in_terminal(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    columns: int = 200,
    timeout: float = 120,
) -> tuple[int, str]:
    """`devora args...` with stdout (and stderr) on a pseudo-terminal `columns` wide.

    Returns the exit status and what the terminal showed, with "\\r\\n" made "\\n".
    """
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = dict(env) if env is not None else child_env()
    environment.pop("COLUMNS", None)
    environment.setdefault("TERM", "xterm-256color")
    process = subprocess.Popen(
        [*devora_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        cwd=cwd,
        env=environment,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    data = os.read(primary, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        status = process.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
