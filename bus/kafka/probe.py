"""Is the Kafka cluster reachable? A TCP connect to its bootstrap servers, cheap enough to run
every few seconds (daemon readiness) and bounded by ``timeout`` (`newsflow status`)."""

from __future__ import annotations

import socket
from typing import Sequence


def _split(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return (host.strip("[]") or server), int(port or 9092)


def unreachable(servers: Sequence[str], timeout: float = 2.0) -> str | None:
    """None when one bootstrap server accepts a connection, else why none did."""
    errors = []
    for server in servers:
        try:
            with socket.create_connection(_split(server), timeout=timeout):
                return None
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{server}: {exc}")
    return "; ".join(errors) or "no bootstrap servers configured"
