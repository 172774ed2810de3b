"""`newsflow setup`: create what the daemons expect to exist (topics, index template and
indices), and optionally load the Kibana objects. Idempotent: run it on every deploy."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

import typer

from newsflow.cli.common import ConfigOpt, load_settings, out

T = TypeVar("T")
log = logging.getLogger(__name__)


def _retrying(what: str, fn: Callable[[], T], wait: float, unavailable: tuple[type[BaseException], ...]) -> T:
    """Retry ``fn`` while its service is unavailable, for up to ``wait`` seconds (a compose stack
    starts everything at once). Other errors (bad config, refused request) fail at once."""
    deadline = time.monotonic() + wait
    delay = 1.0
    while True:
        try:
            return fn()
        except unavailable as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: not available yet, retrying in %.0fs: %s", what, delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def setup(
    config: Optional[Path] = ConfigOpt,
    kibana_url: Optional[str] = typer.Option(
        None, "--kibana-url", envvar="NEWSFLOW_KIBANA_URL", help="Also import the Kibana objects into this Kibana."
    ),
    kibana_api_key: Optional[str] = typer.Option(None, "--kibana-api-key", envvar="NEWSFLOW_KIBANA_API_KEY", show_default=False),
    kibana_user: Optional[str] = typer.Option(None, "--kibana-user", envvar="NEWSFLOW_KIBANA_USER"),
    kibana_password: Optional[str] = typer.Option(None, "--kibana-password", envvar="NEWSFLOW_KIBANA_PASSWORD", show_default=False),
    kibana_space: Optional[str] = typer.Option(None, "--kibana-space", help="Kibana space id (default space if unset)."),
    wait: float = typer.Option(0.0, help="Retry this many seconds while Kafka, Elasticsearch or Kibana are not up yet."),
) -> None:
    """Create the topics and the index (template, write alias, feed-status index); with --kibana-url,
    import the Kibana data views, saved searches and dashboards. Safe to run again."""
    from newsflow.bus.backend import BusUnavailable
    from newsflow.daemon import logs
    from newsflow.index.base import IndexUnavailable
    from newsflow.pipeline.backends import open_broker, open_index, topic_partitions

    s = load_settings(config)
    logs.configure("text", "WARNING")
    topics = topic_partitions(s)
    broker = open_broker(s)
    try:
        _retrying("bus", lambda: broker.create_topics(topics), wait, (BusUnavailable,))
    finally:
        close = getattr(broker, "close", None)
        if close:
            close()
    out.print(f"topics ({s.bus.backend}): " + ", ".join(f"{t} ({n} partitions)" for t, n in topics.items()), highlight=False, markup=False)
    index = _retrying("index", lambda: open_index(s), wait, (IndexUnavailable,))  # open_index runs Index.setup()
    index.close()
    if s.index.backend == "elasticsearch":
        es = s.index.elasticsearch
        out.print(f"index (elasticsearch): template and write alias {es.alias}, feed status index {es.feed_status_index}", highlight=False, markup=False)
    else:
        out.print(f"index (sqlite): {s.index_db}", highlight=False, markup=False)
    if kibana_url:
        from newsflow.cli.kibana import report
        from newsflow.kibana import run_import

        es = s.index.elasticsearch
        sent, result = run_import(
            kibana_url, api_key=kibana_api_key, user=kibana_user, password=kibana_password, space=kibana_space,
            alias=es.alias, feed_status_index=es.feed_status_index, wait=wait,
        )
        code = report(kibana_url, kibana_space, sent, result, overwrite=True)
        if code:
            raise typer.Exit(code)
