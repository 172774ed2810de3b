"""`newsflow search`: ranked hits with snippets, from either index."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import ConfigOpt, load_settings, out, snippet_markup


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

    s = load_settings(config)
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
             "site": h.site, "language": h.language, "snippet": h.snippet, "story_id": _story(h)}
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
        if _story(h):
            out.print(f"  [dim]story {_story(h)} (newsflow stories {_story(h)})[/]", highlight=False)


def _story(hit: object) -> str | None:
    article = getattr(hit, "article", None)
    return article.enrichment.story_id if article is not None and article.enrichment is not None else None


def _aware(value: Optional[datetime]) -> Optional[datetime]:
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
