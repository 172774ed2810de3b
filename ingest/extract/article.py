"""Article page bytes + url (+ the feed entry) -> Article. Pure: no network, no clock but "today".

The steps of ``extract``, each in its own module of this package:

1. decode and parse the page once (``decoding``; the parser's nesting limit: ``depth``);
2. trafilatura reads the body from that tree, on its own copy; readability's reading of the
   page, which trafilatura computes anyway as its safety net, is kept, and so is each block's
   source element (``trafilatura_adapter``);
3. a lighter copy of trafilatura's metadata steps reads the same tree (``metadata``);
4. the body becomes text, a blank line between blocks, and page chrome is removed at its
   edges (``body``, ``chrome``); a body that is mostly a layout table gets a second opinion
   from trafilatura's precision mode;
5. the text is tidied: the headline goes when the body repeats it (as the page's h1, <title>
   or og:title spell it: ``headline``); readability confirms the text's last lines; blocks
   whose source element is named for a role never article text (newsletter form, disclaimer,
   photo credit) go, and so do lines inside a sign-up or comment form's box and credit,
   advertising-label and dateline lines (``line_filters``); a container trafilatura chose wrongly
   is checked against readability's reading (``container``);
   on pages in a language whose news count the lead as the article's first paragraph (not
   English), the lead trafilatura skipped is put back (``headline``);
6. the Article, gaps filled from the feed entry, ``provenance`` saying where each field came
   from (``metadata``).

Per-site template learning is a separate step (``site_templates``), as it needs the site's
other pages. Quality and speed are measured by `newsflow bench extraction` (docs/extraction.md),
whose ablation switches ideas off with ``ExtractOptions``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lxml.html import HtmlElement
from trafilatura import load_html

from newsflow.ingest.config import ExtractConfig
from newsflow.ingest.extract.body import body_text, layout_table
from newsflow.ingest.extract.chrome import Removed
from newsflow.ingest.extract.container import check_container
from newsflow.ingest.extract.decoding import decode_page
from newsflow.ingest.extract.depth import MAX_DEPTH, cut_by_depth
from newsflow.ingest.extract.errors import ExtractionError
from newsflow.ingest.extract.headline import drop_leading_title, lead_is_text, page_headlines, shown_lead, title_words
from newsflow.ingest.extract.line_filters import (
    MIN_FORM_LINE_WORDS, RoleBoxes, form_boxes, lines_in_boxes, quotes, strip_credits, unconfirmed_tail,
)
from newsflow.ingest.extract.metadata import build_article, page_language, page_metadata, page_metas
from newsflow.ingest.extract.options import ExtractOptions
from newsflow.ingest.extract.trafilatura_adapter import Document, read_body
from newsflow.ingest.extract.version import EXTRACTOR_VERSION
from newsflow.ingest.urls import InvalidURL, canonical_url

if TYPE_CHECKING:
    from newsflow.core.record import Article
    from newsflow.ingest.feedparse import FeedEntry

log = logging.getLogger(__name__)

# Markup ("<" characters: tags, comments) a page may hold. A parsed element costs lxml and
# trafilatura's copies of the tree about 1.5 kB: 5 MB of bare <div>s or table cells (800,000
# tags) took an extraction worker to 760 MB, past the poller's 500 MB bound. The largest of 793
# real news pages (shared/bench/extraction) holds 19,600; at this limit a page peaks near 330 MB.
MAX_TAGS = 200_000

@dataclass
class Extraction:
    """An article with what was done to get it: chrome lines removed, choices worth logging."""

    article: Article
    removed: list[Removed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Page:
    """The parsed page and its <meta> tags, read once. ``notes``: how it was decoded, if worth
    saying; ``cut``: the parser dropped its end at its depth limit (``depth``)."""

    url: str
    tree: HtmlElement
    metas: dict[str, str]
    notes: tuple[str, ...] = ()
    cut: bool = False


def extract_article(
    html: bytes | str,
    url: str,
    entry: FeedEntry | None = None,
    feed_url: str | None = None,
    settings: ExtractConfig | None = None,
    *,
    content_type: str | None = None,
) -> Article:
    """The article in ``html`` fetched from ``url``. Raises ExtractionError when there is none.

    ``content_type`` is the HTTP header, if any: its charset is one hint for decoding.
    """
    article = extract(html, url, entry, feed_url, settings, content_type=content_type).article
    return article.model_copy(update={"extractor_version": EXTRACTOR_VERSION})


def extract(
    html: bytes | str,
    url: str,
    entry: FeedEntry | None = None,
    feed_url: str | None = None,
    settings: ExtractConfig | None = None,
    *,
    content_type: str | None = None,
    options: ExtractOptions = ExtractOptions(),
) -> Extraction:
    """As ``extract_article``, with the removed chrome lines and notes for logs and counters.

    ``options`` switches ideas off, for the benchmark's ablation (``ExtractOptions``).
    """
    settings = settings or ExtractConfig()
    fetched_url = _fetched_url(url)
    if len(html) > settings.max_page_bytes:
        raise ExtractionError(f"page of {len(html)} bytes is over the extractor's {settings.max_page_bytes}-byte limit",
                              kind="too_large", url=url)
    page = _parse(html, url, content_type)
    notes: list[str] = list(page.notes)

    boxes = RoleBoxes()
    reading = read_body(page.tree, url, on_block=boxes.observe if options.role_boxes else None)
    doc = reading.document
    if doc is not None:
        _read_metadata(doc, page, entry, notes)
    text, removed = body_text(doc, settings, options)
    if text and options.second_opinion and layout_table(text):
        doc, text, removed = _precision_mode(page, doc, text, removed, settings, options, notes)
    if doc is not None and text:
        text, removed = _tidy(page, doc, text, removed, reading.readability, boxes, settings, options, notes)

    if len(text) < max(settings.min_text_chars, 1):
        shown = f"{len(text)} chars < {settings.min_text_chars}" if text else "nothing"
        if page.cut:
            raise ExtractionError(
                f"no extractable text ({shown}) above the HTML parser's depth limit: the page nests elements"
                f" deeper than {MAX_DEPTH} levels, and the parser dropped everything from there to its end",
                kind="too_deep", url=url)
        raise ExtractionError(f"no extractable text ({shown})", kind="no_text", url=url)
    if page.cut:
        notes.append(f"page nested deeper than {MAX_DEPTH} elements: the HTML parser dropped everything from"
                     " there to its end; the text may be incomplete")
        log.warning("%s: nested deeper than %d elements, the parser dropped the rest; text may be incomplete",
                    url, MAX_DEPTH, extra={"url": url, "kind": "too_deep"})
    assert doc is not None  # body_text gives "" without a document, which raised above
    article = build_article(doc, page.tree, page.metas, text, url=url, fetched_url=fetched_url, entry=entry,
                            feed_url=feed_url, notes=notes)
    return Extraction(article, list(removed), notes)


def _fetched_url(url: str) -> str:
    try:
        return canonical_url(url)
    except InvalidURL as exc:
        raise ExtractionError(str(exc), kind="bad_url", url=url) from exc


def _parse(html: bytes | str, url: str, content_type: str | None) -> _Page:
    notes: tuple[str, ...] = ()
    if isinstance(html, str):
        text_in = html
    else:
        decoded = decode_page(html, content_type, url)
        text_in, note = decoded.text, decoded.note()
        notes = (note,) if note else ()
    if not text_in.strip():
        raise ExtractionError("no extractable text (empty page)", kind="no_text", url=url)
    tags = text_in.count("<")
    if tags > MAX_TAGS:
        raise ExtractionError(f"page of {tags} tags is over the extractor's {MAX_TAGS}-tag limit (not parsed)",
                              kind="too_large", url=url)
    tree = load_html(text_in)
    if tree is None:
        raise ExtractionError("not an HTML document", kind="not_html", url=url)
    return _Page(url, tree, page_metas(tree), notes, cut_by_depth(tree, text_in))


def _read_metadata(doc: Document, page: _Page, entry: FeedEntry | None, notes: list[str]) -> None:
    try:
        page_metadata(doc, page.tree, page.url, feed_has_authors=bool(entry and any(entry.authors)))
    except (ValueError, TypeError) as exc:  # htmldate's or trafilatura's failure on an odd page
        notes.append(f"page metadata unreadable ({exc}); the feed's fills in")


def _precision_mode(
    page: _Page, doc: Document, text: str, removed: list[Removed],
    settings: ExtractConfig, options: ExtractOptions, notes: list[str],
) -> tuple[Document, str, list[Removed]]:
    """A layout table read as the article: trafilatura's precision mode usually finds the real
    body in it. Its answer must not be a table dump as well."""
    strict = read_body(page.tree, page.url, favor_precision=True).document
    strict_text, strict_removed = body_text(strict, settings, options)
    if strict is None or not strict_text or layout_table(strict_text):
        return doc, text, removed
    notes.append("layout table in the body: took trafilatura's precision mode")
    strict.title, strict.author, strict.description = doc.title, doc.author, doc.description
    strict.sitename, strict.date, strict.language = doc.sitename, doc.date, doc.language
    return strict, strict_text, strict_removed


def _tidy(
    page: _Page, doc: Document, text: str, removed: list[Removed], readability: HtmlElement | None,
    boxes: RoleBoxes, settings: ExtractConfig, options: ExtractOptions, notes: list[str],
) -> tuple[str, list[Removed]]:
    """The headline, the unconfirmed tail, role-box, credit and dateline lines out; the container
    checked against readability's reading; the lead in."""
    removed = list(removed)
    headlines = page_headlines(page.tree, doc.title, page.metas) if options.page_headlines else [title_words(doc.title)]
    text, gone = drop_leading_title(text, [h for h in headlines if h])
    removed += gone
    reading_text = " ".join(readability.itertext()) if readability is not None else ""
    if readability is not None and options.tail_check:
        text, gone = unconfirmed_tail(text, reading_text)
        removed += gone
    # Inside the text, after the tail check: readability confirms the text's last lines
    # as they were, and a credit under the last photo is often the last line it confirms.
    if options.role_boxes:
        text, gone = lines_in_boxes(text, boxes.texts)
        removed += gone
    if options.form_boxes:
        # A form quoting the page's headline is a "share by email" form previewing the article.
        forms = [box for box in form_boxes(page.tree) if not any(len(h) >= 2 and quotes(box, h) for h in headlines)]
        text, gone = lines_in_boxes(text, forms, MIN_FORM_LINE_WORDS)
        removed += [Removed(r.line, "form", r.edge) for r in gone]
    if options.credits and settings.boilerplate_filter:
        text, gone = strip_credits(text)
        removed += gone
    if readability is not None and options.container_check:
        text, verdict, gone = check_container(text, readability, reading_text)
        removed += gone
        if verdict:
            notes.append(f"trafilatura's container looked wrong ({verdict}): checked against readability's reading")
    if options.lead and lead_is_text(page_language(page.tree, page.metas)):
        lead = shown_lead(page.tree, doc.description, text, headlines)
        if lead:
            notes.append("put back the lead trafilatura skipped")
            text = f"{lead}\n\n{text}"
    return text, removed
