"""`newsflow extract FILE_OR_URL`: one article (text and metadata), the stable contract other tools call."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError, ConfigOpt, load_settings, out


def extract(
    file_or_url: str = typer.Argument(..., help="An HTML file (may be .gz) or an http(s) url."),
    url: Optional[str] = typer.Option(None, "--url", help="The page's url, when reading a file."),
    as_json: bool = typer.Option(False, "--json", help="Print the article as JSON."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Extract one article (text and metadata) and print it."""
    from newsflow.core.record import Enrichment
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.extract.errors import ExtractionError

    s = load_settings(config)
    if file_or_url.startswith(("http://", "https://")):
        from newsflow.ingest.fetch_result import FetchError
        from newsflow.ingest.fetcher import fetch_page_sync

        try:
            page = fetch_page_sync(file_or_url, s.poller)
        except FetchError as exc:
            raise CliError(f"{file_or_url}: {exc}") from exc
        html, page_url, content_type = page.body, url or page.url, page.content_type
    else:
        content_type = None
        path = Path(file_or_url)
        html = path.read_bytes()  # a missing file is an OSError naming it: one line, exit 1
        if html[:2] == b"\x1f\x8b":
            try:
                html = gzip.decompress(html)
            except (OSError, EOFError) as exc:
                raise CliError(f"{path}: broken gzip file: {exc}") from exc
        page_url = url or _declared_url(html)
        if page_url is None:
            raise CliError(f"{path}: the page names no canonical url; give its url with --url", exit_code=2)
    try:
        article = extract_article(html, page_url, settings=s.extract, content_type=content_type)
    except ExtractionError as exc:
        raise CliError(f"{file_or_url}: {exc}") from exc
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
