"""`newsflow run` and `newsflow demo`: every stage in one process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, load_settings, out, snippet_markup


def run(
    config: Optional[Path] = ConfigOpt,
    once: bool = typer.Option(False, "--once", help="Poll each feed once, drain every stage, print a summary, exit."),
) -> None:
    """Run every stage in one process (embedded bus, or Kafka if the config says so). Until
    SIGTERM it serves /metrics, /health/live and /health/ready on daemon.metrics_port, like the
    stage daemons; --once serves nothing."""
    from newsflow.cli.daemons import health_server
    from newsflow.daemon import logs
    from newsflow.daemon.health import install_signal_handlers
    from newsflow.daemon.shutdown import exit_when_overdue
    from newsflow.pipeline.run_all import run_all

    s = load_settings(config)
    logs.configure("text" if once else s.daemon.log_format, s.daemon.log_level if not once else "WARNING")
    if not s.feeds:
        raise CliError("no feeds configured: add one with `newsflow feeds add URL` (or see `newsflow demo`)", exit_code=2)
    stop = threading.Event()
    install_signal_handlers(stop)
    exit_when_overdue(stop, s.daemon.shutdown_timeout)
    summary = run_all(s, once=once, stop=stop, health=None if once else health_server)
    for line in summary.lines():
        out.print(line, highlight=False, soft_wrap=True)  # one line each, whatever the width: scripts grep them


def demo(
    config: Optional[Path] = ConfigOpt,
    query: str = typer.Option("Stoltenberg", help="The sample search to run afterwards."),
) -> None:
    """Serve the bundled seed news site on 127.0.0.1, run the pipeline once over its feeds
    (embedded bus and index), and show what was indexed. The index stays for `newsflow search`."""
    from rich.markup import escape

    from newsflow.daemon import logs
    from newsflow.index.base import SearchQuery
    from newsflow.ingest.config import FeedConfig
    from newsflow.pipeline.backends import open_index
    from newsflow.pipeline.run_all import run_all
    from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve

    s = load_settings(config)
    logs.configure("text", "WARNING")
    with serve(SEED_SITE) as base:
        # The site keeps its real urls (and so its article ids); requests go to the local server.
        s = s.model_copy(
            update={
                "feeds": [FeedConfig(url=u, name="Example News (seed)") for u in SEED_FEEDS],
                "poller": s.poller.model_copy(update={"host_map": {SEED_ORIGIN: base}, "per_host_delay": 0.05,
                                                   # the seed site is served on loopback: let it past the SSRF guard
                                                   "allow_addresses": ["127.0.0.1"]}),
            }
        )
        out.print(f"serving the seed site {SEED_SITE} at {base} as {SEED_ORIGIN}", highlight=False)
        summary = run_all(s, once=True)
    for line in summary.lines():
        out.print(line, highlight=False, soft_wrap=True)  # one line each, whatever the width: scripts grep them
    idx = open_index(s, create=False)
    try:
        everything = idx.search(SearchQuery(text="", source=None, limit=20))
        out.print(f"\n[bold]indexed ({s.index.backend}, {s.index_db if s.index.backend == 'sqlite' else s.index.elasticsearch.alias}):[/]", highlight=False)
        for h in everything.hits:
            out.print(f"  {h.published_at:%Y-%m-%d} {h.title}  [dim]{h.url}[/]" if h.published_at else f"  {h.title}", highlight=False)
        hits = idx.search(SearchQuery(text=query, limit=3))
        out.print(f"\n[bold]newsflow search {query}[/]: {hits.total} hits", highlight=False)
        for h in hits.hits:
            out.print(f"  {escape(h.title or h.url)}\n    {snippet_markup(h.snippet)}", highlight=False)
    finally:
        idx.close()
    out.print(f"\nTry: newsflow search {query}", highlight=False)
