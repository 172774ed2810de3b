"""`newsflow feeds add|discover|list|import|export`: the feed list in the config file; `add` and
`discover` find a site's feeds from its page (ingest/discover_feeds.py)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, config_path_for_write, err, load_settings, out

if TYPE_CHECKING:
    from newsflow.ingest.discover_feeds import Discovery

feeds_app = typer.Typer(help="Manage the feed list in the config file.", no_args_is_help=True)


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Optional[str] = typer.Option(None, help="A display name."),
    discover: bool = typer.Option(True, "--discover/--no-discover",
                                  help="When URL is a web page, find its feeds and add those (default); else add URL as is."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Add a feed or sitemap url to the config file; given a site's page, find its feeds and add the right ones."""
    from pydantic import ValidationError

    from newsflow.feedlist import add_feeds
    from newsflow.ingest.config import FeedConfig

    try:
        FeedConfig(url=url, name=name)
    except ValidationError as exc:
        raise CliError(f"feeds.url {url!r}: {exc.errors()[0]['msg']}", exit_code=2) from exc
    urls = [url]
    if discover:
        found = _discover(url, config, quiet_failure=True)
        if found is not None and not found.is_feed:
            _print_discovery(found, adding=True)
            if not found.chosen:
                raise CliError(f"{url}: no feed found on this page; add a feed url, or --no-discover to add it as is")
            urls = [f.url for f in found.chosen]
    path = config_path_for_write(config)
    feeds = [FeedConfig(url=u, name=name if len(urls) == 1 else None) for u in urls]
    added, present = add_feeds(path, feeds)
    if len(urls) == 1:
        out.print(f"{'added' if added else 'already listed'}: {urls[0]} ({path})", highlight=False)
    else:
        out.print(f"{added} feeds added, {present} already listed ({path})", highlight=False)


@feeds_app.command("discover")
def feeds_discover(url: str, config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the feeds a site's page offers (verified, best first) without adding them."""
    found = _discover(url, config)
    assert found is not None
    if as_json:
        import orjson

        chosen = {f.url for f in found.chosen}
        doc = {
            "url": found.url, "is_feed": found.is_feed, "note": found.note,
            "feeds": [{"url": f.url, "format": f.format, "role": f.role, "title": f.title, "source": f.candidate.source,
                       "pollable": f.pollable, "chosen": f.url in chosen} for f in found.feeds],
            "rejected": [{"url": u, "reason": why} for u, why in found.rejected],
        }
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_discovery(found, adding=False)


_SOURCE_WORDS = {"link": "declared in the page head", "trafilatura": "found by trafilatura", "anchor": "linked from the page",
                 "path": "at a common feed path",
                 "robots": "listed in robots.txt"}


def _discover(url: str, config: Optional[Path], *, quiet_failure: bool = False) -> "Discovery | None":
    """The site's feeds, through the poller's fetcher and its settings (guard, robots, user agent)."""
    import asyncio

    from newsflow.ingest.discover_feeds import discover
    from newsflow.ingest.fetch_result import FetchError
    from newsflow.ingest.fetcher import Fetcher

    s = load_settings(config)

    async def run() -> "Discovery":
        async with Fetcher(s.poller) as fetcher:
            return await discover(fetcher, url, obey_robots=s.poller.obey_robots)

    try:
        return asyncio.run(run())
    except FetchError as exc:
        if quiet_failure:  # offline, or the url is down: added as given, like before discovery
            err.print(f"note: could not check {url} ({exc.kind}: {exc}); added as given", highlight=False)
            return None
        raise CliError(f"{url}: {exc}") from exc


def _print_discovery(found: "Discovery", *, adding: bool) -> None:
    chosen = {f.url for f in found.chosen}
    out.print(f"{found.url}: {len(found.feeds)} feed{'s' if len(found.feeds) != 1 else ''} found", markup=False, highlight=False, soft_wrap=True)
    for f in found.feeds:
        if f.url in chosen:
            verdict = "added" if adding else "would be added"
        elif not f.pollable:
            verdict = "skipped: JSON Feed, not polled by newsflow"
        elif f.role == "comments":
            verdict = "skipped: comment feed"
        elif f.role == "topic":
            verdict = "skipped: per-tag/category feed"
        else:
            verdict = "skipped: same entries as a feed above"
        title = f' "{f.title}"' if f.title else ""
        out.print(f"  {f.url}  [{f.format}, {f.role}]{title} - {_SOURCE_WORDS[f.candidate.source]}; {verdict}", markup=False, highlight=False, soft_wrap=True)
    if found.note:
        out.print(f"note: {found.note}", markup=False, highlight=False, soft_wrap=True)
    for u, why in found.rejected:
        out.print(f"  not a feed: {u} ({why})", markup=False, highlight=False, soft_wrap=True)


@feeds_app.command("list")
def feeds_list(config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the feeds with their health (last poll, errors, next poll)."""
    import orjson
    from rich.table import Table

    from newsflow.ingest.feedstate import FeedStateStore

    s = load_settings(config)
    store = FeedStateStore(s.state_db) if s.state_db.exists() else None
    rows = []
    for feed in s.feeds:
        st = store.get(feed.url) if store else None
        rows.append(
            {
                "url": feed.url,
                "name": feed.name or (st.title if st else None),
                "status": (st.status if st else "new"),
                "waiting": st.waiting if st else 0,  # articles the bus refused, kept for a retry
                "last_success": st.last_success if st else None,
                "next_poll": st.next_poll if st else None,
                "consecutive_errors": st.consecutive_errors if st else 0,
                "last_error": st.last_error if st else None,
            }
        )
    if as_json:
        sys.stdout.write(orjson.dumps(rows, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("feed", "status", "last success", "next poll", "errors", "last error")
    for r in rows:
        table.add_row(
            r["name"] or r["url"] if not r["name"] else f"{r['name']}\n{r['url']}",
            f"{r['status']}: {r['waiting']} articles waiting for the bus" if r["waiting"] else r["status"],
            _fmt_time(r["last_success"]),
            _fmt_time(r["next_poll"]),
            str(r["consecutive_errors"]),
            (r["last_error"] or "")[:80],
        )
    out.print(table)


def _fmt_time(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


@feeds_app.command("import")
def feeds_import(opml: Path, config: Optional[Path] = ConfigOpt) -> None:
    """Import the feeds of an OPML file into the config file."""
    from newsflow.feedlist import add_feeds
    from newsflow.ingest.config import FeedConfig
    from newsflow.ingest.opml import OpmlError, read_opml
    from newsflow.progress import track

    try:
        found = read_opml(opml.read_bytes())
    except (OSError, OpmlError) as exc:
        raise CliError(f"{opml}: {exc}", exit_code=2) from exc
    for warning in found.warnings:
        err.print(f"note: {warning}", highlight=False)
    feeds, bad = [], 0
    for item in track(found, len(found), f"importing {opml.name}"):
        try:
            feeds.append(FeedConfig(url=item.url, name=item.title))
        except ValueError:
            bad += 1
            err.print(f"skipped {item.url!r}: not an http(s) url", highlight=False)
    path = config_path_for_write(config)
    added, present = add_feeds(path, feeds)
    out.print(f"{added} feeds added, {present} already listed, {bad} skipped ({path})", highlight=False)


@feeds_app.command("export")
def feeds_export(config: Optional[Path] = ConfigOpt, output: Optional[Path] = typer.Option(None, "--out", "-o")) -> None:
    """Write the feed list as OPML (stdout by default)."""
    from newsflow.ingest.opml import OpmlFeed, write_opml

    s = load_settings(config)
    data = write_opml([OpmlFeed(url=f.url, title=f.name) for f in s.feeds], title="newsflow feeds")
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
