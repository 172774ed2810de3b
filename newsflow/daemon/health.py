"""What every long-running stage shares: SIGTERM/SIGINT -> a stop event, and an HTTP
endpoint with liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger(__name__)


def install_signal_handlers(stop: threading.Event) -> None:
    """First signal: stop taking work and drain. Second: the operator means it, exit now."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            log.warning("second signal, exiting without draining", extra={"signal": signum})
            raise SystemExit(130)
        log.info("shutdown requested, draining", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


class HealthServer:
    """``/health/live``: the process loop turns. ``/health/ready``: its dependencies answer.
    ``/metrics``: Prometheus text format.

    ``ready`` returns True when ready, else False or why not (a string: the 503's body says it)."""

    def __init__(self, host: str, port: int, ready: Callable[[], "bool | str"], live: Callable[[], bool] = lambda: True):
        self.ready, self.live = ready, live
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if self.path.startswith("/metrics"):
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif self.path.startswith("/health/live"):
                    ok = outer._check(outer.live)
                    self._send(200 if ok else 503, b"ok\n" if ok else b"not live\n")
                elif self.path.startswith("/health/ready"):
                    verdict = outer._verdict()
                    ok = verdict is True
                    body = "ready\n" if ok else f"not ready: {verdict}\n" if verdict else "not ready\n"
                    self._send(200 if ok else 503, body.encode())
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @staticmethod
    def _check(fn: Callable[[], bool]) -> bool:
        try:
            return bool(fn())
        except Exception:  # a failing check means "not ready", never a crashed endpoint
            return False

    def _verdict(self) -> "bool | str":
        try:
            verdict = self.ready()
        except Exception as exc:  # a failing check means "not ready", never a crashed endpoint
            return f"{type(exc).__name__}: {exc}"
        return verdict if isinstance(verdict, str) and verdict else bool(verdict)

    def start(self) -> "HealthServer":
        self._thread.start()
        log.info("health and metrics endpoint up", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
