"""Feed bytes -> ParsedFeed, with feedparser. Pure: no I/O, the fetcher hands us the body.

feedparser reads RSS 0.9x/1.0/2.0 and Atom, sniffs encodings and recovers from
ill-formed XML ("bozo" feeds). We use what it recovers when there is something to
use (entries or a feed title) and flag it; otherwise we raise FeedError with a
message a person can act on.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import feedparser
import lxml.html
from feedparser.encodings import convert_to_utf8
from lxml.etree import ParserError

from newsflow.ingest.urls import MAX_URL_CHARS


class FeedError(ValueError):
    """A body that is not a usable feed. ``kind`` is a short label for counting."""

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str  # guid/id, else the link: the key of "seen" per feed
    link: str | None
    title: str | None = None
    published: datetime | None = None  # aware, UTC
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # Atom category@term / RSS <category> (Blogger labels)
    summary: str | None = None  # plain text
    content: str | None = None  # HTML, when the feed carries the full content
    language: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    bozo: bool = False
    bozo_reason: str | None = None
    version: str | None = None  # feedparser's name for the format, e.g. "atom10", "rss20"
    language: str | None = None
    encoding: str | None = None
    # The feed's own links as (rel, absolute href): RFC 5005's "prev-archive" and "next" lead to
    # its past (ingest/feed_history.py).
    links: tuple[tuple[str, str], ...] = ()
    generator: str | None = None  # the software that wrote it (<generator>), e.g. https://wordpress.org/?v=6.4


# A DTD internal subset (<!DOCTYPE rss [ ... ]>). Entities declared there are how a feed makes a
# parser expand a few kB into gigabytes (billion laughs: entities of entities; quadratic blow-up:
# one big entity referenced many times), and feedparser's loose parser expands them when strict
# XML refuses. So no parser ever sees them: plain text entities (no references inside, the growth
# they cause bounded) are expanded here and the subset dropped; external ones (an XHTML entity
# set, or an XXE attempt) are dropped with it, never fetched; anything else is refused.
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.I)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_EXTERNAL_ENTITY = re.compile(rb"<!ENTITY\s+(?:%\s+)?[A-Za-z_][\w.-]*\s+(?:SYSTEM|PUBLIC)\s", re.I)
_PLAIN_ENTITY = re.compile(rb"""<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"&%<]*)"|'([^'&%<]*)')\s*>""", re.I)
MAX_ENTITY_GROWTH = 1 << 20  # bytes the expansion may add to the feed


def _refuse(why: str) -> FeedError:
    return FeedError(
        f"the feed declares XML entities in its DTD ({why}): refused, expanding them could take "
        "gigabytes (entity expansion); ask its publisher to remove the <!DOCTYPE [...]>",
        kind="entity_expansion",
    )


def expand_declared_entities(body: bytes, decoded: bytes | None = None) -> bytes:
    """``body`` with its DTD internal subset's plain text entities expanded and the subset
    dropped; FeedError (``entity_expansion``) for any entity that could blow up.

    The whole body is searched: the subset may follow any amount of prolog (a comment), and
    expat's amplification limit grows with the document (100x past 8 MB), so a 1 MB comment
    before the DOCTYPE buys 100 MB of expansion. ``decoded``: the body as feedparser reads it
    (``convert_to_utf8``), for the feeds whose bytes hide a DTD (UTF-16, UTF-32, EBCDIC).
    """
    head = body
    m = _DOCTYPE_SUBSET.search(head)
    if m is None:
        if decoded is not None and _DOCTYPE_SUBSET.search(decoded) and _ENTITY_DECL.search(decoded):
            raise _refuse("in a feed not in an ASCII-compatible encoding: UTF-16, UTF-32 or EBCDIC")
        return body
    end = head.find(b"]>", m.end())
    if end < 0:
        raise _refuse("its internal subset does not end")
    subset = head[m.end():end]
    if not _ENTITY_DECL.search(subset):
        return body  # attribute or element declarations only: harmless
    values: dict[bytes, bytes] = {}
    for decl in _ENTITY_DECL.finditer(subset):
        if _EXTERNAL_ENTITY.match(subset, decl.start()):
            continue  # dropped with the subset: newsflow never fetches an entity
        plain = _PLAIN_ENTITY.match(subset, decl.start())
        if plain is None:
            raise _refuse("an entity that refers to others or holds markup, or a parameter entity")
        values[plain.group(1)] = plain.group(2) if plain.group(2) is not None else plain.group(3)
    rest = body[end + 2:]
    if not values:
        return body[: m.end() - 1].rstrip() + b">" + rest
    refs = re.compile(rb"&(" + b"|".join(re.escape(n) for n in values) + rb");")
    growth = 0
    for ref in refs.finditer(rest):
        growth += len(values[ref.group(1)]) - len(ref.group(0))
        if growth > MAX_ENTITY_GROWTH:
            raise _refuse(f"expanding them would add over {MAX_ENTITY_GROWTH} bytes")
    return body[: m.end() - 1].rstrip() + b">" + refs.sub(lambda r: values[r.group(1)], rest)


# Longer entry ids are kept as their hash (a 4 MB guid or link would be stored and logged whole).
MAX_ID_CHARS = MAX_URL_CHARS

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S)
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` (its final url, the base of relative links)."""
    if not body or not body.strip():
        raise FeedError("empty body: the server sent no feed", kind="empty")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        # The body as feedparser will read it: in UTF-8, by its rules (BOM, HTTP, declaration).
        decoded = convert_to_utf8(dict(headers), body, {})
    except ValueError as exc:  # feedparser lets out UnicodeError ("undefined" codec), ValueError (a NUL in the label)
        raise FeedError(f"undecodable feed: {exc}", kind="malformed") from exc
    body = expand_declared_entities(body, decoded)
    # A BytesIO, never the bytes themselves: feedparser treats a bytes/str argument
    # as a filename or url to open when it can.
    try:
        d = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # noqa: BLE001 - feedparser's own crash on a hostile body ("<link<item>": KeyError)
        raise FeedError(f"unusable feed: the parser failed ({type(exc).__name__}: {exc})", kind="malformed") from exc
    version = d.get("version") or None
    feed = d.get("feed") or {}
    entries = [e for e in (_entry(raw, feed) for raw in d.get("entries", [])) if e is not None]
    title = _clean(feed.get("title"))
    exc = d.get("bozo_exception")
    # A feed served as text/plain or without a content type is mislabelled, not ill-formed:
    # feedparser still parses it, so it does not count as bozo here.
    bozo = bool(d.get("bozo")) and type(exc).__name__ != "NonXMLContentType"
    reason = _bozo_reason(exc) if bozo else None

    if not version and not entries and not title:
        raise FeedError(_not_a_feed(body, content_type, reason), kind="not_a_feed")
    if bozo and not entries and not title:
        raise FeedError(f"unusable feed: {reason}", kind="malformed")
    return ParsedFeed(
        title=title,
        link=feed.get("link"),
        entries=entries,
        bozo=bozo,
        bozo_reason=reason,
        version=version,
        language=feed.get("language"),
        encoding=d.get("encoding"),
        links=_links(feed),
        generator=_clean(feed.get("generator")),
    )


def _links(feed: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for link in feed.get("links") or ():
        rel, href = link.get("rel"), link.get("href")
        if isinstance(rel, str) and isinstance(href, str) and href and len(href) <= MAX_URL_CHARS:
            out.append((rel.lower(), href))
    return tuple(out)


def _not_a_feed(body: bytes, content_type: str | None, reason: str | None) -> str:
    head = body[:2048]
    if _HTML_START.search(head) or (content_type or "").lower().startswith(("text/html", "application/xhtml")):
        return f"not a feed: got an HTML page (content-type {content_type or 'unknown'})"
    if reason:
        return f"not a feed: {reason}"
    m = _ROOT_TAG.search(head.replace(b"<?", b"").replace(b"<!", b""))
    if m:
        return f"not a feed: XML root <{m.group(1).decode('ascii', 'replace')}> is not RSS, Atom or RDF"
    return "not a feed: no RSS, Atom or RDF document found"


def _bozo_reason(exc: Any) -> str:
    if exc is None:
        return "ill-formed feed"
    line = getattr(exc, "getLineNumber", None)
    if callable(line):
        try:
            msg = exc.getMessage()
        except Exception:  # noqa: BLE001 - feedparser wraps odd exceptions; fall back to str()
            msg = str(exc)
        return f"XML parse error at line {line()}: {msg}"
    name = type(exc).__name__
    if name == "CharacterEncodingOverride":
        return f"wrong encoding declared: {exc}"
    return f"{name}: {exc}" if str(exc) else name


def _entry(raw: Any, feed: Any) -> FeedEntry | None:
    link = raw.get("link") or _alternate_link(raw)
    entry_id = raw.get("id") or link
    if isinstance(entry_id, str) and len(entry_id) > MAX_ID_CHARS:
        # A monstrous guid (or the link standing for it) is kept as its hash: the same entry still
        # has the same key, and the state stores 45 characters, not megabytes.
        entry_id = "sha1:" + hashlib.sha1(entry_id.encode("utf-8", "replace")).hexdigest()
    if not entry_id:
        # No id, no link: key it by its text, so the poller reports it once, not on every poll.
        text = "\x1f".join(str(dict.get(raw, k) or "") for k in ("title", "summary", "published", "updated"))
        if not text.strip("\x1f"):
            return None  # an empty <item/>
        entry_id = "sha1:" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()
    content = None
    contents = raw.get("content") or []
    if contents:
        # Prefer an HTML body over a plain-text one when the feed gives several.
        best = next((c for c in contents if "html" in (c.get("type") or "")), contents[0])
        content = best.get("value") or None
    summary = None
    detail = raw.get("summary_detail")
    # feedparser copies Atom <content> into "summary" when there is no summary; that is
    # not a summary, so only a real summary_detail counts.
    if detail is not None and raw.get("summary"):
        summary = _text(raw["summary"], detail.get("type"))
    language = raw.get("language") or (detail or {}).get("language") or (contents[0].get("language") if contents else None)
    language = language or (raw.get("title_detail") or {}).get("language") or feed.get("language")
    return FeedEntry(
        entry_id=str(entry_id).strip(),
        link=link.strip() if isinstance(link, str) else None,
        title=_clean(raw.get("title")),
        published=_when(raw.get("published_parsed")) or _when(raw.get("created_parsed")),
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date (with a warning).
        updated=_when(dict.get(raw, "updated_parsed")),
        authors=_authors(raw),
        categories=_categories(raw),
        summary=summary,
        content=content,
        language=language or None,
    )


def _alternate_link(raw: Any) -> str | None:
    for link in raw.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return None


def _when(parsed: Any) -> datetime | None:
    # feedparser normalises dates to UTC struct_time
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def _authors(raw: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in raw.get("authors") or []:
        name = _clean(author.get("name")) if hasattr(author, "get") else None
        # An e-mail alone ("noreply@blogger.com") is not a name: leave it out.
        if name and "@" not in name:
            names.append(name)
    if not names and raw.get("author") and "@" not in raw["author"]:
        names.append(raw["author"].strip())
    return tuple(dict.fromkeys(names))


def _categories(raw: Any) -> tuple[str, ...]:
    terms: list[str] = []
    for tag in raw.get("tags") or []:
        term = _clean(tag.get("term") or tag.get("label"))
        if term:
            terms.append(term)
    return tuple(dict.fromkeys(terms))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(_CONTROL.sub("", value).split())
    return value or None


def _text(value: str, mime: str | None) -> str | None:
    if "html" not in (mime or "text/html") or "<" not in value:
        return _clean(value)
    try:
        return _clean(lxml.html.fromstring(value).text_content())
    except (ParserError, ValueError):
        return _clean(re.sub(r"<[^>]+>", " ", value))
