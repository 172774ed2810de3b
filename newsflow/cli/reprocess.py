"""`newsflow reprocess`: archived pages back through extraction, enrichment and indexing, offline."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, load_settings, out, parse_when


def reprocess(
    since: Optional[str] = typer.Option(None, help="Pages fetched at or after this time (ISO, UTC unless it says)."),
    until: Optional[str] = typer.Option(None, help="Pages fetched before this time."),
    site: Optional[str] = typer.Option(None, help="Pages of this host (and its subdomains)."),
    feed: Optional[str] = typer.Option(None, help="Pages that came from this feed url."),
    outdated: bool = typer.Option(False, "--outdated", help="Only articles whose extractor or enricher versions are older than the running ones."),
    restart: bool = typer.Option(False, "--restart", help="Forget where an interrupted run of this selection stopped."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Send archived pages (archive.enabled) through extraction, enrichment and indexing again,
    without the network, on the bus's reprocess topics. The same articles are updated in place.
    Interrupted, the same command resumes where it stopped."""
    from newsflow.daemon import logs
    from newsflow.daemon.health import install_signal_handlers
    from newsflow.pipeline.reprocess import NoArchive, Selection, reprocess as run
    from newsflow.progress import track

    s = load_settings(config)
    logs.configure("text", "WARNING")
    selection = Selection(parse_when(since, "--since"), parse_when(until, "--until"), site, feed, outdated)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        summary = run(s, selection, stop=stop, restart=restart,
                      track=lambda pages: track(pages, None, "archived pages read"))
    except NoArchive as exc:
        raise CliError(str(exc), exit_code=2) from None
    if summary.resumed_after is not None:
        out.print(f"resumed after {summary.resumed_after[0]} offset {summary.resumed_after[1]}", highlight=False)
    failed = ", ".join(f"{k} {v}" for k, v in sorted(summary.failed.items())) or "none"
    out.print(f"pages selected: {summary.pages}; articles reprocessed: {summary.sent}; up to date: {summary.up_to_date}; "
              f"extraction failures: {failed}  ({summary.seconds:.1f}s)", highlight=False, soft_wrap=True)
    if stop.is_set():
        raise CliError("interrupted: run the same command again to resume", exit_code=130)
