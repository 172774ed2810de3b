"""`newsflow backfill SOURCE --since DATE`: a source's past, fetched now, on the reprocess lane."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, load_settings, out, parse_when

SHOWN = 20  # entries listed by --list before "... and N more"


def backfill(
    source: str = typer.Argument(..., help="A feed or sitemap url, a site's address, or the name of a listed feed."),
    since: str = typer.Option(..., help="Entries published at or after this time (ISO, UTC unless it says)."),
    until: Optional[str] = typer.Option(None, help="Entries published before this time."),
    list_only: bool = typer.Option(False, "--list", help="Only read the source's history and list what would be fetched."),
    max_documents: int = typer.Option(500, min=1, help="Feed archive pages or sitemaps read at most."),
    max_articles: int = typer.Option(10_000, min=1, help="Entries fetched at most (the newest)."),
    delay: Optional[float] = typer.Option(None, min=0.0, help="Seconds between two requests to the site, if more than poller.per_host_delay (a poll daemon may be fetching from it too)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Fetch what a source published since a date: older pages of a paged feed or its RFC 5005
    archives (rel prev-archive / next), or a sitemap's urls; for a site's address, its
    robots.txt sitemaps, else its main feed. The articles go on the reprocess
    topics, never delaying live news, with the poller's politeness, robots.txt and archive.
    Entries already sent (by the live poller or an earlier backfill) are not fetched again, so
    an interrupted backfill resumes when run again."""
    from newsflow.daemon import logs
    from newsflow.daemon.health import install_signal_handlers
    from newsflow.ingest.feed_history import Window
    from newsflow.ingest.feedparse import FeedError
    from newsflow.ingest.fetch_result import FetchError
    from newsflow.pipeline.backfill import backfill as run
    from newsflow.progress import track

    s = load_settings(config)
    if delay is not None and delay > s.poller.per_host_delay:
        s = s.model_copy(update={"poller": s.poller.model_copy(update={"per_host_delay": delay})})
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    assert start is not None  # a required option
    if end is not None and end <= start:
        raise CliError("--until must be later than --since", exit_code=2)
    url = next((f.url for f in s.feeds if f.name and f.name == source), source)
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{source!r} is neither an http(s) url nor the name of a listed feed (`newsflow feeds list`)",
                       exit_code=2)
    logs.configure("text", "WARNING")
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        summary = run(s, url, Window(start, end), stop=stop, list_only=list_only, max_documents=max_documents,
                      max_entries=max_articles, track=lambda entries, total: track(entries, total, "entries"))
    except FetchError as exc:
        raise CliError(f"{url}: {exc}") from exc
    except FeedError as exc:
        raise CliError(f"{url}: {exc}") from exc
    h = summary.history
    if h.site:
        out.print(f"{h.site}: a site; its past read from {h.source}", highlight=False, soft_wrap=True)
    left = [f"{h.older} older than --since"] + ([f"{h.newer} not before --until"] if h.newer else [])
    if h.over_limit:
        left.append(f"{h.over_limit} past --max-articles")
    out.print(f"{h.source}: {h.kind}, {len(h.documents)} documents read ({h.ended}); {len(h.entries)} entries in the "
              f"window ({h.undated} undated), left out: {', '.join(left)}", highlight=False, soft_wrap=True)
    for doc, why in h.failed:
        out.print(f"  not read: {doc} ({why})", highlight=False, soft_wrap=True, markup=False)
    if summary.listed_only:
        for e in h.entries[:SHOWN]:
            when = e.published or e.updated
            out.print(f"  {when.date().isoformat() if when else 'undated   '}  {e.link}", highlight=False, soft_wrap=True,
                      markup=False)
        if len(h.entries) > SHOWN:
            out.print(f"  ... and {len(h.entries) - SHOWN} more", highlight=False)
        return
    p = summary.poll
    errors = ", ".join(f"{k} {v}" for k, v in sorted(p.article_errors.items())) or "none"
    out.print(f"pages fetched: {p.entries_new}; articles sent: {p.articles_emitted}; already sent before: "
              f"{p.duplicates}; errors: {errors}  ({summary.seconds:.1f}s)", highlight=False, soft_wrap=True)
    if stop.is_set():
        raise CliError("interrupted: run the same command again to go on", exit_code=130)
    if p.articles_waiting:
        raise CliError(f"the bus refused {p.articles_waiting} articles, not sent (`newsflow status` tells why): "
                       "run the same command again once it takes them")
