"""The SSRF guard's address rules and resolution (the fetcher's use of it: tests/test_fetcher.py)."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import pytest

from newsflow.ingest.address_guard import AddressGuard, BlockedAddress, GuardedBackend, blocked_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("100.64.0.1", "reserved (shared or special-purpose)"),  # CGNAT
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fd00::1", "private"),  # unique local
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback (inside an IPv6 address)"),
        ("::ffff:169.254.169.254", "link-local (inside an IPv6 address)"),
        ("2002:7f00:1::", "loopback (inside an IPv6 address)"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private (inside an IPv6 address)"),  # NAT64 of 10.0.0.1
    ],
)
def test_internal_addresses_are_named(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_the_allow_list_takes_hosts_addresses_and_networks() -> None:
    guard = AddressGuard(["intranet.example", "127.0.0.1", "10.20.0.0/16", " "])
    guard.check("127.0.0.1", ipaddress.ip_address("127.0.0.1"))
    guard.check("feeds.intranet.example", ipaddress.ip_address("10.20.3.4"))
    guard.check("INTRANET.example.", ipaddress.ip_address("10.9.9.9"))  # the host itself is allowed
    for host, ip in (("127.0.0.2", "127.0.0.2"), ("other.example", "10.21.0.1"), ("x", "169.254.169.254")):
        with pytest.raises(BlockedAddress, match="poller.allow_addresses"):
            guard.check(host, ipaddress.ip_address(ip))


def test_resolution_checks_every_answer_and_returns_the_checked_address() -> None:
    async def main() -> None:
        assert await AddressGuard(["127.0.0.0/8", "::1"]).resolve("localhost", 80) in ("127.0.0.1", "::1")
        with pytest.raises(BlockedAddress, match=r"localhost \((127\.0\.0\.1|::1)\): a loopback address"):
            await AddressGuard().resolve("localhost", 80)
        with pytest.raises(BlockedAddress):
            await AddressGuard().resolve("[::1]", 80)
        with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
            await AddressGuard().resolve("no-such-host.invalid", 80)

    asyncio.run(main())


def test_the_backend_connects_to_the_checked_address_only() -> None:
    class Recorder(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self.calls: list[str] = []

        async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
            self.calls.append(host)
            raise httpcore.ConnectError("recorded")

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

    async def main() -> list[str]:
        inner = Recorder()
        backend = GuardedBackend(AddressGuard(["127.0.0.0/8"]), inner)
        with pytest.raises(httpcore.ConnectError):
            await backend.connect_tcp("localhost", 80)
        with pytest.raises(BlockedAddress):
            await GuardedBackend(AddressGuard(), inner).connect_tcp("127.0.0.3", 80)
        with pytest.raises(BlockedAddress):
            await backend.connect_unix_socket("/var/run/docker.sock")
        return inner.calls

    assert asyncio.run(main()) == ["127.0.0.1"]  # the address it checked, never the name again
