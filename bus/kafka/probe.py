"""Is the Kafka cluster reachable? One ApiVersions request to a bootstrap server, answered within
``timeout``: cheap enough to run every few seconds (daemon readiness), bounded for `newsflow
status`. A request, not just a TCP connect: a load balancer or a proxy may accept connections
for a broker that is gone. ApiVersions is answered before SASL authentication; on SSL listeners
it goes over TLS with the config's certificates."""

from __future__ import annotations

import socket
import ssl
import struct

from newsflow.bus.config import KafkaConfig

_API_VERSIONS = 18
_CORRELATION = 0x6E66  # any id: the answer must carry it back


def _split(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return (host.strip("[]") or server), int(port or 9092)


def _request(client_id: str) -> bytes:
    name = client_id.encode()
    body = struct.pack(">hhih", _API_VERSIONS, 0, _CORRELATION, len(name)) + name
    return struct.pack(">i", len(body)) + body


def _tls(cfg: KafkaConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cfg.ssl_cafile) if cfg.ssl_cafile else None)
    context.check_hostname = cfg.ssl_check_hostname
    if cfg.ssl_certfile:
        context.load_cert_chain(str(cfg.ssl_certfile), str(cfg.ssl_keyfile) if cfg.ssl_keyfile else None)
    return context


def _ask(server: str, cfg: KafkaConfig, timeout: float) -> None:
    host, port = _split(server)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = _tls(cfg).wrap_socket(raw, server_hostname=host) if cfg.security_protocol.endswith("SSL") else raw
        sock.sendall(_request(cfg.client_id))
        head = b""
        while len(head) < 8:
            chunk = sock.recv(8 - len(head))
            if not chunk:
                raise ConnectionError("connection closed without an answer")
            head += chunk
        if struct.unpack(">ii", head)[1] != _CORRELATION:
            raise ConnectionError("not a Kafka answer")


def unreachable(cfg: KafkaConfig, timeout: float = 2.0) -> str | None:
    """None when a bootstrap server answers, else why none did."""
    errors = []
    for server in cfg.bootstrap_servers:
        try:
            _ask(server, cfg, timeout)
            return None
        except (OSError, ValueError) as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            errors.append(f"{server}: {reason}")
    return "; ".join(errors) or "no bootstrap servers configured"
