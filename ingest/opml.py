"""OPML import and export of the feed list.

OPML comes from other programs and strangers, so it is parsed defensively: no DTD,
no entity expansion, no network, no huge trees. Outlines nest (folders); every
outline with an ``xmlUrl`` is a feed, its folder titles become its categories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Iterable, Iterator

from lxml import etree

MAX_OPML_BYTES = 20_000_000
_BARE_AMP = re.compile(rb"&(?!(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z_][\w.-]*);)")


class OpmlError(ValueError):
    """An OPML document that cannot be read (not XML, not OPML, or refused as unsafe)."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None = None
    html_url: str | None = None
    categories: tuple[str, ...] = ()  # enclosing folder titles, outermost first


@dataclass
class OpmlImport:
    feeds: list[OpmlFeed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # skipped outlines, duplicates, recovered XML

    def __iter__(self) -> Iterator[OpmlFeed]:
        return iter(self.feeds)

    def __len__(self) -> int:
        return len(self.feeds)


def _parser(recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=recover, remove_comments=True
    )


def read_opml(data: bytes) -> OpmlImport:
    """The feeds of an OPML document (iterate the result), with warnings for what was skipped."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"OPML file is {len(data)} bytes, over the {MAX_OPML_BYTES}-byte limit")
    if not data.strip():
        raise OpmlError("OPML file is empty")
    result = OpmlImport()
    head = data[:4096].lower()
    try:
        root = etree.fromstring(data, _parser(recover=False))
    except etree.XMLSyntaxError as exc:
        if b"<!doctype" in head or b"<!entity" in head:
            raise OpmlError(f"OPML refused: it declares a DTD or entities ({exc})") from exc
        # Hand-made OPML often has a bare "&" in a url: escape those, else let libxml2
        # recover what it can. Either way, say so.
        root = None
        for attempt, recover in ((_BARE_AMP.sub(b"&amp;", data), False), (data, True)):
            try:
                root = etree.fromstring(attempt, _parser(recover=recover))
            except etree.XMLSyntaxError:
                continue
            if root is not None:
                break
        if root is None:
            raise OpmlError(f"not valid XML: {exc}") from exc
        result.warnings.append(f"ill-formed XML, recovered what was readable: {exc}")
    if root.getroottree().docinfo.internalDTD is not None:
        raise OpmlError("OPML refused: it declares a DTD (entity declarations are not allowed)")
    if _localname(root) != "opml":
        raise OpmlError(f"not an OPML document: root element is <{root.tag}>")
    body = next((c for c in root if _localname(c) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML document: no <body>")
    seen: set[str] = set()
    _walk(body, (), result, seen)
    return result


def _localname(el: Any) -> str | None:
    """An element's name without its namespace, lowercased; None for comments and PIs. (Not
    etree.QName: it raises on the names libxml2's recovery makes, such as "x:".)"""
    return el.tag.rpartition("}")[2].lower() if isinstance(el.tag, str) else None


def _attr(el: Any, name: str) -> str | None:
    # Attribute names vary in case between producers (xmlUrl, xmlurl).
    for key, value in el.attrib.items():
        if isinstance(key, str) and key.lower() == name.lower():
            value = " ".join(value.split())
            return value or None
    return None


def _walk(parent: Any, folders: tuple[str, ...], result: OpmlImport, seen: set[str]) -> None:
    for el in parent:
        try:
            if _localname(el) != "outline":
                continue
            title = _attr(el, "title") or _attr(el, "text")
            url = _attr(el, "xmlUrl")
        except UnicodeDecodeError:  # libxml2's recovery keeps some invalid characters (&#xD800;) as bytes
            result.warnings.append("skipped an outline whose attributes are not valid text")
            continue
        if url:
            if not url.lower().startswith(("http://", "https://")):
                result.warnings.append(f"skipped outline {title or '(untitled)'!r}: xmlUrl {url!r} is not http(s)")
            elif url in seen:
                result.warnings.append(f"skipped duplicate feed {url}")
            else:
                seen.add(url)
                result.feeds.append(OpmlFeed(url, title, _attr(el, "htmlUrl"), folders))
        # A feed outline may itself hold outlines; folders are outlines without xmlUrl.
        _walk(el, folders + ((title,) if title and not url else ()), result, seen)


def write_opml(feeds: Iterable[Any], title: str = "newsflow feeds", now: datetime | None = None) -> bytes:
    """OPML 2.0 of ``feeds``: FeedConfig, OpmlFeed, or anything with ``url`` (and ``name``/``title``)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(timezone.utc), usegmt=True)
    body = etree.SubElement(root, "body")
    for feed in feeds:
        url = feed if isinstance(feed, str) else feed.url
        name = None if isinstance(feed, str) else (getattr(feed, "name", None) or getattr(feed, "title", None))
        el = etree.SubElement(body, "outline", type="rss", text=name or url, xmlUrl=url)
        if name:
            el.set("title", name)
        html_url = getattr(feed, "html_url", None)
        if html_url:
            el.set("htmlUrl", html_url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
