"""A watchdog process that cleans up the servers we start if pytest dies without cleaning up.

Normal runs stop their servers in fixture finalizers (and ``atexit``). If pytest is killed
(SIGKILL, OOM, a CI time-out), those never run; the reaper notices because the pipe from
pytest to its stdin closes, then kills the processes and removes the folders it was told
about. It checks ``/proc/<pid>/cmdline`` against a marker before killing so that a reused
PID is never hit.
"""

from __future__ import annotations

import atexit
import contextlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

_REAPER_SOURCE = r"""
import os, shutil, signal, sys, time

pids, pgdatas, trees = {}, [], []
for raw in sys.stdin:
    cmd, _, arg = raw.rstrip("\n").partition("\t")
    if cmd == "pid":
        pid, _, marker = arg.partition("\t")
        pids[int(pid)] = marker
    elif cmd == "unpid":
        pids.pop(int(arg), None)
    elif cmd == "pg" and arg not in pgdatas:
        pgdatas.append(arg)
    elif cmd == "unpg" and arg in pgdatas:
        pgdatas.remove(arg)
    elif cmd == "rm" and arg not in trees:
        trees.append(arg)
    elif cmd == "unrm" and arg in trees:
        trees.remove(arg)

def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""

def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    return False

for pid, marker in pids.items():
    if marker and marker in cmdline(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
for pgdata in pgdatas:
    try:
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        continue
    if pgdata in cmdline(pid):
        try:
            os.kill(pid, signal.SIGQUIT)
            if not wait_gone(pid, 5.0):
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
for tree in trees:
    shutil.rmtree(tree, ignore_errors=True)
"""


class Reaper:
    """Client side of the watchdog; started lazily on first use, one per pytest process."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _send(self, *fields: str) -> None:
        line = "\t".join(fields).replace("\n", " ") + "\n"
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _REAPER_SOURCE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C in the terminal must not kill it first
                )
            stdin: IO[bytes] | None = self._proc.stdin
            if stdin is None or stdin.closed:
                return
            with contextlib.suppress(OSError):
                stdin.write(line.encode())
                stdin.flush()

    def watch_pid(self, pid: int, marker: str) -> None:
        """Kill ``pid`` if pytest dies, provided its command line contains ``marker``."""
        self._send("pid", str(pid), marker)

    def forget_pid(self, pid: int) -> None:
        self._send("unpid", str(pid))

    def watch_postgres(self, pgdata: Path) -> None:
        """Immediate-shutdown the postmaster of ``pgdata`` if pytest dies."""
        self._send("pg", str(pgdata))

    def forget_postgres(self, pgdata: Path) -> None:
        self._send("unpg", str(pgdata))

    def remove_later(self, path: Path) -> None:
        """Remove ``path`` when the reaper finishes (at the end of the session or on a crash)."""
        self._send("rm", str(path))

    def close(self, timeout: float = 10.0) -> None:
        """Close the pipe: the reaper performs what is still registered and exits."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


REAPER = Reaper()
atexit.register(REAPER.close)
