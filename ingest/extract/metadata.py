"""The article's fields beside its text: title, byline, dates, site, language, url, read from
the page (its meta tags, JSON-LD, htmldate) and filled in from the feed entry where the page
says nothing. ``provenance`` records where each field came from."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement

from newsflow.core.lang import primary_language
from newsflow.core.record import Article, Origin
from newsflow.ingest.extract.trafilatura_adapter import (
    Document, examine_meta, extract_author, extract_meta_json, extract_sitename, extract_title, set_date_params,
)
from newsflow.ingest.extract.vocabulary import PLATFORM_NAMES
from newsflow.ingest.urls import InvalidURL, canonical_url

if TYPE_CHECKING:
    from newsflow.ingest.feedparse import FeedEntry

# A page date this far from the feed's published date is a wrong guess (a copyright year,
# a date in a sidebar): the feed's wins.
MAX_DATE_DISAGREEMENT = timedelta(days=7)
# htmldate keeps the time and offset when the page gives them (article:published_time, JSON-LD).
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
T = TypeVar("T")


def page_metadata(doc: Document, tree: HtmlElement, url: str, *, feed_has_authors: bool = False) -> None:
    """trafilatura's ``extract_metadata`` for the fields an Article has, onto ``doc``.

    The same steps (meta tags, then JSON-LD over them, the title and author fallbacks,
    htmldate) minus what we drop anyway (categories, tags, licence, hostname), and cheaper:

    * the byline search (regex tests on every element, one of the extractor's dearest steps)
      looks only inside the page's <article> or <main>, where bylines are, and not at all
      when the feed entry names the authors (they are used then);
    * htmldate's quick search only (meta tags, JSON-LD, url, time elements): the extensive
      one runs dateparser over the page text, which is slow and guesses wrong often; the
      feed entry's date fills the gap (``_published``).
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as trafilatura: a lone word is a handle, not a name
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # noqa: BLE001 - trafilatura guards this call the same way (bugs in its JSON-LD code)
        pass
    doc.title = meta.title or extract_title(tree)
    scope = None if meta.author or feed_has_authors else _article_scope(tree)
    doc.author = meta.author or (extract_author(scope) if scope is not None else None)
    doc.description = meta.description
    doc.sitename = meta.sitename or extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
    doc.date = find_date(tree, url=meta.url or url, **{**set_date_params(False), "outputformat": _DATE_FORMAT})


def _article_scope(tree: HtmlElement) -> HtmlElement | None:
    """Where a byline is: the page's <article> or <main>. None on pages without one: searching
    the whole tree is dear and finds a sidebar name as often as the author's."""
    for path in (".//article", ".//main", ".//*[@role='main']"):
        found = tree.find(path)
        if found is not None:
            return found
    return None


def page_language(tree: HtmlElement, metas: dict[str, str]) -> str | None:
    return primary_language(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
                     or metas.get("content-language") or metas.get("og:locale"))


def page_metas(tree: HtmlElement) -> dict[str, str]:
    """<meta> name/property/http-equiv/itemprop -> content (first wins), lowercased keys."""
    found: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        content = meta.get("content")
        if not content:
            continue
        for attr in ("property", "name", "http-equiv", "itemprop"):
            key = meta.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    return found


def build_article(
    doc: Document, tree: HtmlElement, metas: dict[str, str], text: str, *,
    url: str, fetched_url: str, entry: FeedEntry | None, feed_url: str | None, notes: list[str],
) -> Article:
    """The Article: ``text``, the page's fields (``doc`` after ``page_metadata``, ``metas``),
    the feed entry's where the page has none, and where each came from."""
    prov: dict[str, Origin] = {"text": "page"}
    # Our own read of the canonical link: trafilatura resolves a relative one only via og: tags.
    canonical = tree.find(".//link[@rel='canonical']")
    page_url = (canonical.get("href") if canonical is not None else None) or metas.get("og:url")
    article_url, prov["url"] = _article_url(page_url, fetched_url, notes)

    title, prov_title = _pick(_clean(doc.title), _clean(entry.title) if entry else None)
    authors, prov_authors = _pick(_split_authors(doc.author), [a for a in entry.authors if a] if entry else None)
    summary, prov_summary = _pick(_clean(doc.description), _clean(entry.summary) if entry else None)
    published, prov_published = _published(doc.date, _aware(entry.published) if entry else None, notes)
    updated, prov_updated = _pick(
        _parse_datetime(metas.get("article:modified_time") or metas.get("og:updated_time") or metas.get("datemodified")),
        _aware(entry.updated) if entry else None,
    )
    language, prov_language = _pick(
        page_language(tree, metas) or primary_language(doc.language), primary_language(entry.language) if entry else None
    )
    site = _clean(metas.get("og:site_name")) or _clean(doc.sitename)
    if site and site.lower() in PLATFORM_NAMES:
        site = None
    categories = list(dict.fromkeys(c for c in entry.categories if c)) if entry else []

    for name, origin in (("title", prov_title), ("authors", prov_authors), ("summary", prov_summary),
                         ("published_at", prov_published), ("updated_at", prov_updated),
                         ("language_hint", prov_language)):
        if origin:
            prov[name] = origin
    if site:
        prov["site"] = "page"
    if categories:
        prov["categories"] = "feed"
    prov["source"] = "derived"

    return Article.new(
        article_url,
        original_url=(entry.link if entry and entry.link else url),
        title=title,
        text=text,
        summary=summary,
        published_at=published,
        updated_at=updated,
        authors=authors or [],
        site=site,
        source=urlsplit(article_url).hostname,
        language_hint=language,
        categories=categories,
        feeds=[feed_url] if feed_url else [],
        provenance=prov,
    )


def _article_url(page_canonical: str | None, fetched: str, notes: list[str]) -> tuple[str, Origin]:
    """The page's canonical link when it stays on the same registered domain, else the fetched url.

    A canonical link to the site's home page from an article is a theme bug (it would
    merge every article into one id), so it is ignored.
    """
    if not page_canonical:
        return fetched, "derived"
    try:
        canonical = canonical_url(page_canonical, base=fetched)
    except InvalidURL:
        notes.append(f"unusable canonical link {page_canonical!r}")
        return fetched, "derived"
    if canonical == fetched:
        return fetched, "page"
    if extract_domain(canonical) != extract_domain(fetched):
        notes.append(f"canonical link {canonical} is on another site; kept {fetched}")
        return fetched, "derived"
    if urlsplit(canonical).path in ("", "/") and urlsplit(fetched).path not in ("", "/"):
        notes.append(f"canonical link {canonical} is the home page; kept {fetched}")
        return fetched, "derived"
    return canonical, "page"


def _pick(page: T | None, feed: T | None) -> tuple[T | None, Origin | None]:
    if page:
        return page, "page"
    if feed:
        return feed, "feed"
    return None, None


def _clean(value: str | None) -> str | None:
    value = unicodedata.normalize("NFC", " ".join(value.split())) if value else None
    return value or None


def _split_authors(value: str | None) -> list[str]:
    return list(dict.fromkeys(a for a in (_clean(p) for p in (value or "").split(";")) if a))


def _parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp; naive ones are taken as UTC."""
    try:
        return _aware(datetime.fromisoformat(value.strip())) if value else None
    except ValueError:
        return None


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _published(page_value: str | None, feed: datetime | None, notes: list[str]) -> tuple[datetime | None, Origin | None]:
    """The page's date (htmldate via trafilatura), checked against the feed's.

    htmldate gives an offset when the page has one (article:published_time, JSON-LD); a
    bare date comes out naive. Then the feed's timestamp, if of the same day, is the more
    precise value. A page date far from the feed's is a wrong guess: the feed's wins.
    """
    try:
        page = datetime.fromisoformat(page_value) if page_value else None
    except ValueError:
        page = None
    if page is None:
        return (feed, "feed") if feed else (None, None)
    precise = page.tzinfo is not None
    if not precise:
        page = page.replace(tzinfo=timezone.utc)
    if feed is None:
        return page, "page"
    if abs(page - feed) > MAX_DATE_DISAGREEMENT:
        notes.append(f"page date {page.isoformat()} far from the feed's {feed.isoformat()}; took the feed's")
        return feed, "feed"
    if not precise and abs(page - feed) <= timedelta(days=1):
        return feed, "feed"
    return page, "page"
