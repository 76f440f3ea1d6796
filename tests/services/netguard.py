"""Block outbound network access for the whole test session.

Loopback addresses, Unix sockets and explicitly allowed hosts work; anything else raises
:class:`NetworkAccessBlocked` before a packet is sent (the socket is never even bound), and
host names other than ``localhost`` are not resolved at all (no DNS query leaves either).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

HINT = (
    "Tests must not reach the network: use the loopback fakes in ai.testing. If a test really "
    "needs it, mark it @pytest.mark.allow_network, allow hosts with "
    "DEVORA_TEST_ALLOW_HOSTS=host1,host2, or disable the guard with DEVORA_ALLOW_NETWORK=1."
)


class NetworkAccessBlocked(OSError):
    """Raised instead of opening a connection to a non-local address."""

    def __init__(self, what: str) -> None:
        super().__init__(
            errno.ENETUNREACH, f"network access blocked by the test guard: {what}. {HINT}"
        )
        self.what = what


def hosts_in_url(url: str) -> set[str]:
    """Host names/addresses a Redis or PostgreSQL URL points at (Unix socket paths excluded)."""
    hosts: set[str] = set()
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        candidates = [netloc] if netloc else []
        candidates += [v for k, v in parse_qsl(parts.query) if k == "host"]
    except ValueError:
        return hosts
    for candidate in candidates:
        for item in candidate.split(","):
            item = item.strip()
            if not item or item.startswith("/"):
                continue
            if item.startswith("["):
                hosts.add(item[1 : item.find("]")])
            else:
                hosts.add(item.rsplit(":", 1)[0] if item.count(":") == 1 else item)
    return hosts


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _is_local_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class NetworkGuard:
    """Patches ``socket`` so only local (and explicitly allowed) destinations are reachable."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._names: set[str] = set(LOCAL_NAMES)
        self._ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        with contextlib.suppress(OSError):
            self._names.add(socket.gethostname().lower())  # this machine: never leaves it
        for host in allowed_hosts:
            self.allow_host(host)
        self.blocked: list[str] = []
        self._originals: dict[str, Any] = {}
        self._installs = 0  # nested pytest sessions (pytester) install and uninstall too
        self._suspended = 0
        self._lock = threading.Lock()

    # --- policy -------------------------------------------------------------------------

    def allow_host(self, host: str) -> None:
        host = host.strip().lower().rstrip(".")
        if not host:
            return
        ip = _ip(host)
        if ip is None:
            self._names.add(host)
        else:
            self._ips.add(ip)

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    @property
    def active(self) -> bool:
        return self.installed and self._suspended == 0

    def _host_allowed(self, host: str) -> bool:
        ip = _ip(host)
        if ip is not None:
            return _is_local_ip(ip) or ip in self._ips
        return host.lower().rstrip(".") in self._names

    def _block(self, what: str) -> NetworkAccessBlocked:
        with self._lock:
            self.blocked.append(what)
        return NetworkAccessBlocked(what)

    def check_address(self, family: int, address: Any) -> None:
        """Raise :class:`NetworkAccessBlocked` unless ``address`` is local or allowed."""
        if not self.active or family not in (socket.AF_INET, socket.AF_INET6):
            return
        if not isinstance(address, tuple) or not address:
            return
        host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
        if not self._host_allowed(host):
            port = address[1] if len(address) > 1 else "?"
            raise self._block(f"connect to {host}:{port}")

    def check_lookup(self, host: Any) -> bool:
        """Raise for a name that would need DNS; True when it is an allowed non-local name."""
        if not self.active or host is None:
            return False
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not name or _ip(name) is not None:
            return False
        normalized = name.lower().rstrip(".")
        if normalized in self._names:
            return normalized not in LOCAL_NAMES
        raise self._block(f"DNS lookup of {name!r}")

    def take_blocked(self) -> list[str]:
        """Return and clear the attempts blocked so far (a test that expects them calls this)."""
        with self._lock:
            taken, self.blocked = self.blocked, []
        return taken

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Let everything through inside the block (used for ``@pytest.mark.allow_network``)."""
        self._suspended += 1
        try:
            yield
        finally:
            self._suspended -= 1

    # --- patching -----------------------------------------------------------------------

    def install(self) -> None:
        self._installs += 1
        if self.installed:
            return
        guard = self
        cls = socket.socket
        original_connect = cls.connect
        original_connect_ex = cls.connect_ex
        original_sendto = cls.sendto
        original_getaddrinfo = socket.getaddrinfo
        original_gethostbyname = socket.gethostbyname

        def connect(self: socket.socket, address: Any) -> None:
            guard.check_address(self.family, address)
            return original_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            try:
                guard.check_address(self.family, address)
            except NetworkAccessBlocked:
                return errno.ENETUNREACH
            return original_connect_ex(self, address)

        def sendto(self: socket.socket, data: Any, *args: Any) -> int:
            if args:
                guard.check_address(self.family, args[-1])
            return original_sendto(self, data, *args)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            learn = guard.check_lookup(host)
            result = original_getaddrinfo(host, *args, **kwargs)
            if learn:  # an explicitly allowed name: its addresses are allowed too
                for *_, sockaddr in result:
                    guard.allow_host(str(sockaddr[0]))
            return result

        def gethostbyname(host: str) -> str:
            learn = guard.check_lookup(host)
            address: str = original_gethostbyname(host)
            if learn:
                guard.allow_host(address)
            return address

        self._originals = {
            "connect": cls.__dict__.get("connect"),
            "connect_ex": cls.__dict__.get("connect_ex"),
            "sendto": cls.__dict__.get("sendto"),
            "getaddrinfo": original_getaddrinfo,
            "gethostbyname": original_gethostbyname,
        }
        for name, wrapper in (("connect", connect), ("connect_ex", connect_ex), ("sendto", sendto)):
            setattr(cls, name, wrapper)
        socket.getaddrinfo = getaddrinfo
        socket.gethostbyname = gethostbyname

    def uninstall(self) -> None:
        self._installs = max(self._installs - 1, 0)
        if not self.installed or self._installs:
            return
        originals, self._originals = self._originals, {}
        for name in ("connect", "connect_ex", "sendto"):
            if originals[name] is None:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, originals[name])
        socket.getaddrinfo = originals["getaddrinfo"]
        socket.gethostbyname = originals["gethostbyname"]
