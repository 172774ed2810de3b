"""`newsflow poll|enrich|index`: the three stage daemons (one process each)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from newsflow.cli.common import ConfigOpt, load_settings

if TYPE_CHECKING:
    from newsflow.daemon.health import HealthServer
    from newsflow.settings import Settings


def _daemon(config: Optional[Path]) -> tuple["Settings", threading.Event]:
    from newsflow.daemon import logs
    from newsflow.daemon.health import install_signal_handlers
    from newsflow.daemon.shutdown import exit_when_overdue

    s = load_settings(config)
    logs.configure(s.daemon.log_format, s.daemon.log_level)
    stop = threading.Event()
    install_signal_handlers(stop)
    exit_when_overdue(stop, s.daemon.shutdown_timeout)
    return s, stop


def health_server(s: "Settings", ready: Callable[[], bool]) -> Optional["HealthServer"]:
    from newsflow.daemon.health import HealthServer

    if not s.daemon.metrics_port:
        return None
    return HealthServer(s.daemon.metrics_host, s.daemon.metrics_port, ready).start()


def poll(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: poll the feeds and send cleaned articles to the bus."""
    from newsflow.pipeline.daemons import poll_forever

    s, stop = _daemon(config)
    poll_forever(s, stop, health_server)


def enrich(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: consume cleaned articles, enrich them, produce enriched ones."""
    from newsflow.pipeline.daemons import consume_forever

    s, stop = _daemon(config)
    consume_forever(s, "enrich", stop, health_server)


def index(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: consume enriched articles and write them to the index."""
    from newsflow.pipeline.daemons import consume_forever

    s, stop = _daemon(config)
    consume_forever(s, "index", stop, health_server)
