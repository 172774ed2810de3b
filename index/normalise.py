"""What both index backends agree on, in one place, so SqliteIndex and ElasticIndex filter and
answer alike: how a source host, a time, an article's language and a plain snippet are normalised.

Neither backend imports the other; both import this module.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from newsflow.core.record import Article

# Around matched terms in Hit.snippet (Elasticsearch's default, so the CLI renders both backends alike).
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<em>", "</em>"
# A snippet without a highlight (no query text): the start of the summary or text, cut here.
PLAIN_SNIPPET_CHARS = 200


def normalise_host(value: str) -> str:
    """A source filter or stored source -> its bare host: scheme, path and ``www.`` dropped, casefolded."""
    value = value.strip().casefold()
    if "://" in value:
        value = urlsplit(value).hostname or value
    value = value.split("/", 1)[0]
    return value[4:] if value.startswith("www.") else value


def as_utc(value: datetime) -> datetime:
    """Naive datetimes (in queries and records) mean UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def article_language(article: Article) -> str | None:
    """The tag an article is filed under: the detected language, else what the page declared."""
    return (article.enrichment.language if article.enrichment else None) or article.language_hint


def plain_snippet(text: str) -> str:
    """The snippet of a hit without highlights: the first PLAIN_SNIPPET_CHARS characters, ``…`` if cut."""
    return text[:PLAIN_SNIPPET_CHARS] + ("…" if len(text) > PLAIN_SNIPPET_CHARS else "")
