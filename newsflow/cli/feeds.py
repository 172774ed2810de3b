"""`newsflow feeds add|list|import|export`: the feed list in the config file."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, config_path_for_write, err, load_settings, out

feeds_app = typer.Typer(help="Manage the feed list in the config file.", no_args_is_help=True)


@feeds_app.command("add")
def feeds_add(url: str, name: Optional[str] = typer.Option(None, help="A display name."), config: Optional[Path] = ConfigOpt) -> None:
    """Add a feed url to the config file."""
    from pydantic import ValidationError

    from newsflow.feedlist import add_feeds
    from newsflow.ingest.config import FeedConfig

    try:
        feed = FeedConfig(url=url, name=name)
    except ValidationError as exc:
        raise CliError(f"feeds.url {url!r}: {exc.errors()[0]['msg']}", exit_code=2) from exc
    path = config_path_for_write(config)
    added, _ = add_feeds(path, [feed])
    out.print(f"{'added' if added else 'already listed'}: {url} ({path})", highlight=False)


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
