"""Commands that run the pipeline: run, demo, the three daemons, dead letters, services."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from newsflow.daemon import logs

if TYPE_CHECKING:
    from newsflow.daemon.health import HealthServer
from newsflow.settings import Settings
from newsflow.cli import ConfigOpt, _settings, app, dlq_app, err, out


def _startup_error(exc: BaseException) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}", highlight=False)
    return typer.Exit(2)


@app.command()
def run(
    config: Optional[Path] = ConfigOpt,
    once: bool = typer.Option(False, "--once", help="Poll each feed once, drain every stage, print a summary, exit."),
) -> None:
    """Run every stage in one process (embedded bus, or Kafka if the config says so)."""
    from newsflow.processors.enrich import EnricherUnavailable
    from newsflow.daemon.health import install_signal_handlers
    from newsflow.pipeline.run_all import run_all

    s = _settings(config)
    logs.configure("text" if once else s.daemon.log_format, s.daemon.log_level if not once else "WARNING")
    if not s.feeds:
        err.print("no feeds configured: add one with `newsflow feeds add URL` (or see `newsflow demo`)")
        raise typer.Exit(2)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        summary = run_all(s, once=once, stop=stop)
    except EnricherUnavailable as exc:
        raise _startup_error(exc) from exc
    for line in summary.lines():
        out.print(line, highlight=False)


@app.command()
def demo(
    config: Optional[Path] = ConfigOpt,
    query: str = typer.Option("Stoltenberg", help="The sample search to run afterwards."),
) -> None:
    """Serve the bundled seed news site on 127.0.0.1, run the pipeline once over its feeds
    (embedded bus and index), and show what was indexed. The index stays for `newsflow search`."""
    from rich.markup import escape

    from newsflow.index.base import SearchQuery
    from newsflow.cli import snippet_markup
    from newsflow.processors.enrich import EnricherUnavailable
    from newsflow.pipeline.run_all import run_all
    from newsflow.ingest.config import FeedConfig
    from newsflow.static_site import SEED_FEEDS, SEED_ORIGIN, SEED_SITE, serve
    from newsflow.pipeline.backends import open_index

    s = _settings(config)
    logs.configure("text", "WARNING")
    with serve(SEED_SITE) as base:
        # The site keeps its real urls (and so its article ids); requests go to the local server.
        s = s.model_copy(
            update={
                "feeds": [FeedConfig(url=u, name="Example News (seed)") for u in SEED_FEEDS],
                "poller": s.poller.model_copy(update={"host_map": {SEED_ORIGIN: base}, "per_host_delay": 0.05}),
            }
        )
        out.print(f"serving the seed site {SEED_SITE} at {base} as {SEED_ORIGIN}", highlight=False)
        try:
            summary = run_all(s, once=True)
        except EnricherUnavailable as exc:
            raise _startup_error(exc) from exc
    for line in summary.lines():
        out.print(line, highlight=False)
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


# ---------------------------------------------------------------- services


@app.command()
def services(action: str = typer.Argument(..., help="up | down | status | logs"), service: Optional[str] = typer.Argument(None)) -> None:
    """Start or stop the local Kafka broker and Elasticsearch node (deploy/local/services.sh)."""
    script = Path(__file__).resolve().parent.parent / "deploy" / "local" / "services.sh"
    if not script.exists():
        raise _startup_error(FileNotFoundError(f"{script} is missing (a source checkout is needed)"))
    args = ["bash", str(script), action] + ([service] if service else [])
    raise typer.Exit(subprocess.call(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())


# ---------------------------------------------------------------- daemons


def _daemon(config: Optional[Path], stage: str) -> tuple[Settings, threading.Event]:
    from newsflow.daemon.health import install_signal_handlers

    s = _settings(config)
    logs.configure(s.daemon.log_format, s.daemon.log_level)
    stop = threading.Event()
    install_signal_handlers(stop)
    return s, stop


def _health(s: Settings, ready: Callable[[], bool]) -> Optional["HealthServer"]:
    from newsflow.daemon.health import HealthServer

    if not s.daemon.metrics_port:
        return None
    return HealthServer(s.daemon.metrics_host, s.daemon.metrics_port, ready).start()


@app.command()
def poll(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: poll the feeds and send cleaned articles to the bus."""
    from newsflow.pipeline.daemons import poll_forever

    s, stop = _daemon(config, "poll")
    poll_forever(s, stop, _health)


@app.command()
def enrich(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: consume cleaned articles, enrich them, produce enriched ones."""
    from newsflow.processors.enrich import EnricherUnavailable
    from newsflow.pipeline.daemons import consume_forever

    s, stop = _daemon(config, "enrich")
    try:
        consume_forever(s, "enrich", stop, _health)
    except EnricherUnavailable as exc:
        raise _startup_error(exc) from exc


@app.command("index")
def index_cmd(config: Optional[Path] = ConfigOpt) -> None:
    """Daemon: consume enriched articles and write them to the index."""
    from newsflow.pipeline.daemons import consume_forever

    s, stop = _daemon(config, "index")
    consume_forever(s, "index", stop, _health)


# ---------------------------------------------------------------- dead letters


@dlq_app.command("replay")
def dlq_replay(
    config: Optional[Path] = ConfigOpt,
    limit: Optional[int] = typer.Option(None, help="At most this many dead letters."),
    idle: float = typer.Option(5.0, help="Stop after this many seconds without a dead letter."),
) -> None:
    """Send dead letters back to the topic they came from (after you fixed the cause)."""
    from newsflow.bus.dead_letters import replay
    from newsflow.pipeline.backends import group, open_broker, topic_partitions

    s = _settings(config)
    logs.configure("text", "WARNING")
    broker = open_broker(s)
    broker.create_topics(topic_partitions(s))
    producer = broker.producer()
    try:
        result = replay(broker.consumer(group(s, "dlq-replay")), producer, s.bus.topics.dead_letters, limit=limit, idle_timeout=idle)
    finally:
        producer.close()
    out.print(f"replayed {result.replayed} dead letters ({', '.join(f'{t}: {n}' for t, n in result.by_topic.items()) or 'none'}); {result.invalid} unreadable skipped", highlight=False)
