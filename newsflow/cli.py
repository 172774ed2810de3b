"""The `newsflow` command. Heavy modules are imported inside commands so `--help` stays instant."""

from __future__ import annotations

import gzip
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from newsflow.core.errors import ConfigError

from newsflow.settings import Settings, default_config_path, load

app = typer.Typer(help="newsflow: feeds -> clean articles -> enrichment -> search index.", no_args_is_help=True)
feeds_app = typer.Typer(help="Manage the feed list in the config file.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: messages a stage could not process.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print newsflow beside a baseline measured in the same run.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(dlq_app, name="dlq")
app.add_typer(config_app, name="config")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="Config file (default: $NEWSFLOW_CONFIG, ./newsflow.toml, ~/.config/newsflow/newsflow.toml).")


def _settings(config: Optional[Path], **overrides: object) -> Settings:
    try:
        return load(config, **overrides)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc


def _config_path_for_write(config: Optional[Path]) -> Path:
    return config or default_config_path() or Path.cwd() / "newsflow.toml"


# ---------------------------------------------------------------- config


@config_app.command("check")
def config_check(config: Optional[Path] = ConfigOpt) -> None:
    """Validate the config (file + NEWSFLOW_* environment) and say where it came from."""
    s = _settings(config)
    out.print(f"ok: {s.source or 'defaults and environment'}: {len(s.feeds)} feeds, bus={s.bus.backend}, index={s.index.backend}")


@config_app.command("show")
def config_show(config: Optional[Path] = ConfigOpt) -> None:
    """Print the effective config as JSON (secrets masked)."""
    s = _settings(config)
    out.print_json(s.model_dump_json())


# ---------------------------------------------------------------- feeds


@feeds_app.command("add")
def feeds_add(url: str, name: Optional[str] = typer.Option(None, help="A display name."), config: Optional[Path] = ConfigOpt) -> None:
    """Add a feed url to the config file."""
    from pydantic import ValidationError

    from newsflow.feedlist import add_feeds
    from newsflow.ingest.config import FeedConfig

    try:
        feed = FeedConfig(url=url, name=name)
    except ValidationError as exc:
        err.print(f"[red]error:[/] feeds.url {url!r}: {exc.errors()[0]['msg']}", highlight=False)
        raise typer.Exit(2) from exc
    path = _config_path_for_write(config)
    added, _ = add_feeds(path, [feed])
    out.print(f"{'added' if added else 'already listed'}: {url} ({path})", highlight=False)


@feeds_app.command("list")
def feeds_list(config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the feeds with their health (last poll, errors, next poll)."""
    import orjson

    from newsflow.ingest.feedstate import FeedStateStore

    s = _settings(config)
    store = FeedStateStore(s.state_db) if s.state_db.exists() else None
    rows = []
    for feed in s.feeds:
        st = store.get(feed.url) if store else None
        rows.append(
            {
                "url": feed.url,
                "name": feed.name or (st.title if st else None),
                "status": (st.status if st else "new"),
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
            r["status"],
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
    from newsflow.ingest.opml import OpmlError, read_opml
    from newsflow.feedlist import add_feeds
    from newsflow.ingest.config import FeedConfig

    try:
        found = read_opml(opml.read_bytes())
    except (OSError, OpmlError) as exc:
        err.print(f"[red]error:[/] {opml}: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    from newsflow.progress import track

    for warning in found.warnings:
        err.print(f"note: {warning}", highlight=False)
    feeds, bad = [], 0
    for item in track(found, len(found), f"importing {opml.name}"):
        try:
            feeds.append(FeedConfig(url=item.url, name=item.title))
        except ValueError:
            bad += 1
            err.print(f"skipped {item.url!r}: not an http(s) url", highlight=False)
    path = _config_path_for_write(config)
    added, present = add_feeds(path, feeds)
    out.print(f"{added} feeds added, {present} already listed, {bad} skipped ({path})", highlight=False)


@feeds_app.command("export")
def feeds_export(config: Optional[Path] = ConfigOpt, output: Optional[Path] = typer.Option(None, "--out", "-o")) -> None:
    """Write the feed list as OPML (stdout by default)."""
    from newsflow.ingest.opml import OpmlFeed, write_opml

    s = _settings(config)
    data = write_opml([OpmlFeed(url=f.url, title=f.name) for f in s.feeds], title="newsflow feeds")
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


# ---------------------------------------------------------------- extract


@app.command()
def extract(
    file_or_url: str = typer.Argument(..., help="An HTML file (may be .gz) or an http(s) url."),
    url: Optional[str] = typer.Option(None, "--url", help="The page's url, when reading a file."),
    as_json: bool = typer.Option(False, "--json", help="Print the article as JSON."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Extract one article (text and metadata) and print it."""
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.extract.errors import ExtractionError
    from newsflow.core.record import Enrichment

    s = _settings(config)
    if file_or_url.startswith(("http://", "https://")):
        from newsflow.ingest.fetcher import FetchError, fetch_page_sync

        try:
            page = fetch_page_sync(file_or_url, s.poller)
        except FetchError as exc:
            err.print(f"[red]error:[/] {file_or_url}: {exc}", highlight=False)
            raise typer.Exit(1) from exc
        html, page_url, content_type = page.body, url or page.url, page.content_type
    else:
        content_type = None
        path = Path(file_or_url)
        try:
            html = path.read_bytes()
        except OSError as exc:
            err.print(f"[red]error:[/] {path}: {exc.strerror}", highlight=False)
            raise typer.Exit(1) from exc
        if html[:2] == b"\x1f\x8b":
            try:
                html = gzip.decompress(html)
            except (OSError, EOFError) as exc:
                err.print(f"[red]error:[/] {path}: broken gzip file: {exc}", highlight=False)
                raise typer.Exit(1) from exc
        page_url = url or _declared_url(html)
        if page_url is None:
            err.print(f"[red]error:[/] {path}: the page names no canonical url; give its url with --url", highlight=False)
            raise typer.Exit(2)
    try:
        article = extract_article(html, page_url, settings=s.extract, content_type=content_type)
    except ExtractionError as exc:
        err.print(f"[red]error:[/] {file_or_url}: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if as_json:
        import orjson

        from newsflow.processors.enrich.language import LanguageEnricher

        # The contract's `language`: detected from the text (cheap), the page's declaration otherwise.
        enrichment = article.enrichment or Enrichment()
        LanguageEnricher().enrich(article, enrichment)
        doc = {**article.model_dump(mode="json"), "language": enrichment.language or article.language_hint}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.print(f"[bold]{article.title or '(no title)'}[/]", highlight=False)
        out.print(f"{article.url}  {article.published_at or ''}  {', '.join(article.authors)}", highlight=False)
        out.print()
        out.print(article.text, highlight=False, markup=False)


def _declared_url(html: bytes) -> Optional[str]:
    """A saved page's own url: its canonical link or og:url (the article id derives from it)."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(html[:2_000_000])
    except (ValueError, lxml.etree.ParserError):
        return None
    for xpath in ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"):
        found = [v.strip() for v in tree.xpath(xpath) if v.strip().startswith(("http://", "https://"))]
        if found:
            return found[0]
    return None


# ---------------------------------------------------------------- search


@app.command()
def search(
    query: str = typer.Argument("", help="Words to search for (plain text)."),
    source: Optional[str] = typer.Option(None, help="Only this source host or site name."),
    language: Optional[str] = typer.Option(None, "--language", "--lang", help="Only this language code (en, de...)."),
    since: Optional[datetime] = typer.Option(None, help="Published on or after (YYYY-MM-DD)."),
    until: Optional[datetime] = typer.Option(None, help="Published before (YYYY-MM-DD)."),
    entity: Optional[str] = typer.Option(None, help="Mentions this person, organisation or place."),
    limit: int = typer.Option(10, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Search the index: ranked hits with snippets."""
    import orjson

    from newsflow.index.base import SearchQuery
    from newsflow.pipeline.backends import open_index

    s = _settings(config)
    idx = open_index(s, create=False)
    try:
        results = idx.search(
            SearchQuery(text=query, source=source, language=language, since=_aware(since), until=_aware(until), entity=entity, limit=limit)
        )
    finally:
        idx.close()
    if as_json:
        hits = [
            {"id": h.id, "score": h.score, "title": h.title, "url": h.url, "published_at": h.published_at,
             "site": h.site, "language": h.language, "snippet": h.snippet}
            for h in results.hits
        ]
        sys.stdout.write(orjson.dumps({"total": results.total, "hits": hits}, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out.print(f"{results.total} hits", highlight=False)
    for h in results.hits:
        date = h.published_at.strftime("%Y-%m-%d") if h.published_at else "undated"
        out.print(f"\n[bold]{h.title or h.url}[/]  [dim]{date} · {h.site or ''} · {h.language or ''} · {h.score:.2f}[/]", highlight=False)
        out.print(f"  {h.url}", highlight=False, markup=False)
        out.print(f"  {snippet_markup(h.snippet)}", highlight=False)


def snippet_markup(snippet: str) -> str:
    """Both indexes mark hits as <em>...</em>; on a terminal that reads better in bold."""
    from rich.markup import escape

    return escape(" ".join(snippet.split())).replace("<em>", "[bold]").replace("</em>", "[/bold]")


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def main() -> None:
    # Commands defined in other modules register themselves on import.
    from newsflow import commands  # noqa: F401
    from newsflow import kibana, setup_cmd  # noqa: F401
    from newsflow import status  # noqa: F401
    from newsflow import bench_enrich  # noqa: F401
    from newsflow import bench_extraction  # noqa: F401
    from newsflow import bench_poll  # noqa: F401
    from newsflow import bench_pipeline  # noqa: F401

    app()


if __name__ == "__main__":  # run as `python -m newsflow`, which registers every command
    raise SystemExit("use `python -m newsflow` or the `newsflow` command")
