"""The SSRF guard: a poller fetches what strangers' feeds link to, so no request may reach an
internal address (loopback, private networks, link-local with the cloud metadata service, CGNAT,
multicast, reserved, IPv6 unique-local and link-local, and IPv4 hidden in IPv6 forms).

The guard sits where connections are made (``GuardedBackend``, httpcore's network backend): the
host is resolved once, every address is checked, and the connection goes to the checked address,
so DNS cannot answer differently between the check and the connect (rebinding). Every hop of a
redirect chain opens its connection here, so redirects, feeds, pages and robots.txt are all held
to it. Operators who poll their own intranet list hosts or networks in ``poller.allow_addresses``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges the stdlib's flags do not all cover on every Python: CGNAT (RFC 6598), benchmarking
# (RFC 2544), IETF protocol assignments, NAT64 (its IPv4 half is checked too).
_EXTRA = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "198.18.0.0/15", "192.0.0.0/24", "0.0.0.0/8")]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """A request would reach an internal address. ``kind`` is what the fetcher counts."""

    kind = "blocked_address"


def blocked_reason(ip: IP) -> str | None:
    """Why ``ip`` is internal ("loopback", "private", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"{inner} (inside an IPv6 address)" if inner else None
    for flag in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{flag}"):
            return flag.replace("_", "-")
    if isinstance(ip, ipaddress.IPv4Address) and any(ip in net for net in _EXTRA):
        return "reserved (shared or special-purpose)"
    if not ip.is_global:
        return "not globally routable"
    return None


class AddressGuard:
    """Checks hosts and addresses against the internal ranges and the operator's allow-list
    (host names, addresses or CIDR networks)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def allowed(self, host: str, ip: IP) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(ip in net for net in self.networks)

    def check(self, host: str, ip: IP) -> None:
        reason = blocked_reason(ip)
        if reason and not self.allowed(host, ip):
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise BlockedAddress(
                f"refused to connect to {shown[:200]}: a {reason} address; "
                "list it in poller.allow_addresses to poll an internal host on purpose"
            )

    async def resolve(self, host: str, port: int) -> str:
        """The address to connect to: ``host`` resolved once, every answer checked."""
        literal = _literal(host)
        if literal is not None:
            self.check(host, literal)
            return str(literal)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host[:200]}: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host[:200]}: no address")
        for ip in addresses:  # one internal answer among public ones is refused too
            self.check(host, ip)
        return str(addresses[0])


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the guard in ``connect_tcp``: TLS still verifies and
    sends SNI for the url's host name (httpcore takes those from the request, not from here)."""

    def __init__(self, guard: AddressGuard, backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Sequence[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.guard.resolve(host, port)
        return await self._backend.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Sequence[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(f"refused to connect to a unix socket ({path[:200]})")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
