"""What a page's schema.org data says of its article: headline, authors, publication time,
publisher, from JSON-LD (the article object, ``@graph`` nodes and ``@id`` references
resolved); and the people microdata names as authors (``itemprop="author"``).

This is the page's own statement of its byline and date, written for machines: where it names
people it beats the byline search (which also finds sidebar names) and the ``<meta name=author>``
tag (often the publisher: "Condé Nast"); its ``datePublished`` carries the page's offset.
Organisations named as author are the publisher, not a byline, and are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from lxml.html import HtmlElement

MAX_JSON_CHARS = 2_000_000
MAX_NAME_WORDS = 5  # a bigger script is an app's state, not article metadata
# schema.org types of an article (and the BlogPosting family); a WebPage's dates are the page's.
_ARTICLE_WORDS = ("article", "blogposting", "posting", "report")
_NOT_PEOPLE = ("organization", "organisation", "newsmediaorganization", "corporation", "brand")


@dataclass
class Structured:
    headline: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    publisher: str | None = None


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("@type") or []
    return [str(k).casefold() for k in (kind if isinstance(kind, list) else [kind])]


def _is_article(node: dict[str, Any]) -> bool:
    return any(w in t for t in _types(node) for w in _ARTICLE_WORDS)


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _nodes(item)
    elif isinstance(value, dict):
        yield value
        if "@graph" in value:
            yield from _nodes(value["@graph"])


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        text = " ".join(value.split())
        return text or None
    return None


def _ref(node: dict[str, Any]) -> str | None:
    ref = node.get("@id")
    return ref if isinstance(ref, str) else None


def _people(value: Any, by_id: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and "name" not in item and _ref(item) in by_id:
            item = by_id[_ref(item)]
        if isinstance(item, str):
            name = _text(item)
        elif isinstance(item, dict) and not any(t in _NOT_PEOPLE for t in _types(item)):
            name = _text(item.get("name"))
        else:
            name = None
        if name and not name.startswith(("http://", "https://")):
            names.append(name)
    return names


def from_json_ld(tree: HtmlElement) -> Structured:
    found = Structured()
    nodes: list[dict[str, Any]] = []
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        raw = script.text or ""
        if not raw.strip() or len(raw) > MAX_JSON_CHARS:
            continue
        try:
            nodes.extend(_nodes(json.loads(raw, strict=False)))  # raw newlines in strings are common
        except (ValueError, RecursionError):  # broken JSON-LD is common (trailing commas, raw newlines)
            continue
    by_id = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
    for node in nodes:
        if not _is_article(node):
            continue
        found.headline = found.headline or _text(node.get("headline"))
        found.authors = found.authors or _people(node.get("author"), by_id)
        found.published = found.published or _text(node.get("datePublished"))
        publisher = node.get("publisher")
        if isinstance(publisher, dict) and "name" not in publisher:
            publisher = by_id.get(_ref(publisher), publisher)
        found.publisher = found.publisher or (_text(publisher.get("name")) if isinstance(publisher, dict) else None)
    return found


def microdata_authors(tree: HtmlElement) -> list[str]:
    """Names of ``itemprop="author"`` people (each one's ``itemprop="name"``, else its text)."""
    names: list[str] = []
    for el in tree.xpath(".//*[contains(@itemprop, 'author')]"):
        if "author" not in el.get("itemprop", "").split() or "organization" in (el.get("itemtype") or "").casefold():
            continue
        named = el.xpath(".//*[@itemprop='name']")
        if named:
            name = named[0].get("content") or named[0].text_content()
        else:  # the element itself: its text when it is short enough to be just a name
            name = el.get("content") or (el.text_content() if len(el.text_content().split()) <= MAX_NAME_WORDS else "")
        name = " ".join((name or "").split())
        if name and name not in names:
            names.append(name)
    return names
