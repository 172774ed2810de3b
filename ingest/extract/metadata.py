"""The article's fields beside its text: title, byline, dates, site, language, url, read from
the page (its meta tags, JSON-LD, htmldate) and filled in from the feed entry where the page
says nothing. ``provenance`` records where each field came from."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement

from newsflow.core.lang import primary_language
from newsflow.core.record import Article, Origin
from newsflow.ingest.extract.headline import article_title, site_key, title_words
from newsflow.ingest.extract.structured import from_json_ld, microdata_authors
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
MIN_YEAR = 1990  # an older datePublished is a placeholder ("0001-01-01", "1970-01-01")
# Words of a byline box that are no part of a name: update stamps, interface, desks.
NOT_NAME_WORDS = frozenset({
    "updated", "published", "posted", "print", "share", "email", "follow", "subscribe", "comments", "comment",
    "read", "min", "ago", "am", "pm", "on", "at", "desk", "facebook", "twitter", "instagram", "linkedin",
    "unknown", "admin", "administrator",
})
# What to call a hosting platform on its own domain, when the page names no site.
PLATFORM_HOME_NAMES = {"medium": "Medium", "substack": "Substack", "tumblr": "Tumblr", "wordpress": "WordPress"}
# htmldate keeps the time and offset when the page gives them (article:published_time, JSON-LD).
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
T = TypeVar("T")
_NAME_LIST = re.compile(r"\s*,\s*(?:and\s+|&\s*)?|\s+(?:and|&)\s+")
_BY = re.compile(r"^(?:by|von|par|por|di|door|av|af)\s+", re.IGNORECASE)
_HANDLE_WORD = re.compile(r"\s*@\w+")
_SUFFIX = re.compile(r"(?:jr|sr|ii|iii|iv|phd|md)\.?", re.IGNORECASE)  # "Martin Luther King, Jr."


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

    Then what the page's schema.org data says (``structured``) comes first where it speaks:
    the people it names as authors, its datePublished (with the page's offset). The title is
    the headline the page shows (``headline.article_title``); the byline loses names that are
    no person's (``_byline``).
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as trafilatura: a lone word is a handle, not a name
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # noqa: BLE001 - trafilatura guards this call the same way (bugs in its JSON-LD code)
        pass
    schema = from_json_ld(tree)
    metas = page_metas(tree)
    brand = host_brand(url)
    sites = (metas.get("og:site_name"), meta.sitename, schema.publisher, brand)
    doc.title = article_title(meta.title or extract_title(tree), tree, metas, structured_headline=schema.headline,
                              site_names=sites)
    doc.sitename = meta.sitename or _title_site(extract_sitename(tree), brand, doc.title)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
    doc.author = "; ".join(_authors(tree, meta.author, schema.authors, feed_has_authors, sites,
                                    metas.get("article:section"))) or None
    doc.description = meta.description
    found = find_date(tree, url=meta.url or url, **{**set_date_params(False), "outputformat": _DATE_FORMAT})
    doc.date = _precise_date(found, _iso_date(schema.published))


def _iso_date(value: str | None) -> str | None:
    """A schema.org datePublished in ISO 8601 (extended or basic: "20180619T055000+0900") as
    ``_DATE_FORMAT``, its offset kept; None for anything else (htmldate reads those)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if not MIN_YEAR <= parsed.year <= datetime.now(timezone.utc).year + 1:
        return None
    return parsed.strftime(_DATE_FORMAT)


def _title_site(name: str | None, brand: str | None, title: str | None) -> str | None:
    """trafilatura's site name from the <title>: its part with a dot ("CNN.com", "Verband
    e.V."). Not when that part is the headline's ("PJ Morton (Ft. Stevie Wonder)") or holds a
    number ("Bereits 9. ..."), unless it names the host."""
    mine, host = site_key(name), site_key(brand)
    if not mine:
        return None
    if host and (mine.startswith(host) or host.startswith(mine)):
        return name
    in_title = " ".join(title_words(name)) in " ".join(title_words(title))
    return None if in_title or any(ch.isdigit() for ch in name or "") else name


def host_brand(url: str) -> str | None:
    """The name a site goes by when its pages name none: its registered domain ("cnn.com"),
    or the whole host on a hosting platform's subdomain ("example-news.blogspot.com"), or the
    platform's name on its own domain ("Medium")."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    domain = extract_domain(url) if host else None
    if not domain:
        return None
    platform = site_key(domain)
    if platform in PLATFORM_NAMES or domain.split(".")[0] in PLATFORM_NAMES:
        return PLATFORM_HOME_NAMES.get(domain.split(".")[0], domain) if host == domain else host
    return domain


def _authors(
    tree: HtmlElement, meta_author: str | None, schema_people: list[str], feed_has_authors: bool,
    sites: tuple[str | None, ...], section: str | None,
) -> list[str]:
    """The first source that names people (``_byline``): the JSON-LD's people (a login aside),
    the meta tags' author, microdata people inside the article (the page if it has no
    <article> or <main>), trafilatura's byline search inside the article (the dearest, so last).
    Past the meta tags, nothing runs when the feed entry names the authors."""
    def sources():  # type: ignore[no-untyped-def]
        yield "; ".join(n for n in schema_people if not _handle(n))
        yield meta_author
        if feed_has_authors:
            return
        scope = _article_scope(tree)
        # The whole page where it has no <article>: where it has, teaser cards are <article>s too.
        yield "; ".join(microdata_authors(tree if scope is None else scope))
        if scope is not None:
            yield extract_author(scope)

    for found in sources():
        people = _byline(_split_authors(found), sites, section)
        if people:
            return people
    return []


def _byline(names: list[str], sites: tuple[str | None, ...], section: str | None) -> list[str]:
    """The names that are people's, as trafilatura spells them ("By MEG KINNARD" -> "Meg
    Kinnard"): not the site's own name beside people's ("Dana Ford, ..., and Tom Watkins, CNN";
    alone it is the byline of a site that signs as itself), not the page's section or a desk,
    no dates, update stamps or interface words."""
    not_people = {k for k in map(site_key, (*sites, section)) if k}
    kept: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = _tidy_name(raw)
        key = site_key(name)
        if not key or key in seen:  # "Dana A. Ford" and "Dana A Ford"
            continue
        seen.add(key)
        words = [w.strip(".,:;()") for w in name.casefold().split()]
        if any(ch.isdigit() for ch in name) or "/" in name or "www." in name:
            continue
        if any(w in NOT_NAME_WORDS for w in words):
            continue
        kept.append(name)
    people = [n for n in kept if site_key(n) not in not_people]
    return people or kept[:1]


def _tidy_name(name: str) -> str:
    name = _BY.sub("", _HANDLE_WORD.sub("", name)).strip(" ,;:-")
    if name.isupper() or name.islower():  # as trafilatura: "MEG KINNARD", "ann lee"
        name = name.title()
    return name


def _handle(name: str) -> bool:
    """"christian.stadtfeld", "mh": a login, not a name (non-Latin names have no spaces)."""
    return " " not in name.strip() and name.isascii()


def _precise_date(found: str | None, structured: str | None) -> str | None:
    """htmldate's date, or the schema.org datePublished where that says more of the same
    moment: the same day, with the time and offset htmldate lacks; or, where htmldate found a
    bare day one off, a datePublished in a local time zone (a UTC one is a day off at night:
    the bare day is the local one). Elsewhere htmldate's choice stands (a datePublished days
    or years off is a republication's or a template's)."""
    if not structured or not found:
        return found or structured
    try:
        page, schema = datetime.fromisoformat(found), datetime.fromisoformat(structured)
    except ValueError:
        return found
    if page.tzinfo is not None:
        return found
    local = schema.utcoffset() not in (None, timedelta(0))
    if local and page.time() == datetime.min.time() and abs(page.date() - schema.date()) <= timedelta(days=1):
        return structured
    return structured if page.date() == schema.date() else found


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
    if site and site.lower() in PLATFORM_NAMES:  # a stock theme's publisher: "Blogger"
        site = None
    prov_site: Origin = "page"
    if not site:  # the page names none: the host's (``host_brand``)
        site, prov_site = host_brand(article_url), "derived"
    categories = list(dict.fromkeys(c for c in entry.categories if c)) if entry else []

    for name, origin in (("title", prov_title), ("authors", prov_authors), ("summary", prov_summary),
                         ("published_at", prov_published), ("updated_at", prov_updated),
                         ("language_hint", prov_language)):
        if origin:
            prov[name] = origin
    if site:
        prov["site"] = prov_site
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
    """"A; B" (trafilatura's joint), and a list in one string ("A, B and C, CNN")."""
    names = (_clean(n) for part in (value or "").split(";") for n in _NAME_LIST.split(part))
    return list(dict.fromkeys(n for n in names if n and not _SUFFIX.fullmatch(n)))


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
