"""Article page bytes + url (+ the feed entry) -> Article. Pure: no network, no clock but "today".

The page is decoded and parsed once; trafilatura's ``bare_extraction`` gets that tree for the
text (it works on its own copy) and a lighter copy of its metadata steps reads the same tree
(``_page_metadata``). The text is rebuilt from trafilatura's body tree with a blank line
between blocks; then page chrome is removed (``ingest.boilerplate``), and the headline, when
the body repeats it (as the page's h1, <title> or og:title spell it). A body that is mostly a
layout table gets a second opinion from trafilatura's precision mode; and readability's
reading of the page, which trafilatura computes anyway as its safety net, confirms the text's
last lines (``_recorded_readability``). On pages in a language whose news count the lead as
the article's first paragraph (not English), the lead trafilatura skipped is put back
(``_shown_lead``). Blocks whose source element (or an ancestor) is named for a role that is
never article text (newsletter form, disclaimer, photo credit: ``_RoleBoxes``, recorded as
trafilatura builds them) go, and so do credit, advertising-label and dateline lines. Gaps are
filled from the feed entry, and ``provenance`` records where each field came from. Per-site
template learning is a separate step (``ingest.site_memory``), as it needs the site's other pages.
Quality and speed are measured by `newsflow bench extraction` (docs/extraction.md).
"""

from __future__ import annotations

import codecs
import contextvars
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import trafilatura
import trafilatura.external
import trafilatura.main_extractor
from htmldate import find_date
from charset_normalizer import from_bytes
from courlan import extract_domain
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_sitename, extract_title
from trafilatura.settings import set_date_params
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from newsflow.ingest.boilerplate import Removed, lines_in_boxes, strip_chrome, strip_credits, unconfirmed_tail
from newsflow.core.lang import primary_language
from newsflow.core.record import Article, Origin
from newsflow.ingest.urls import InvalidURL, canonical_url
from newsflow.ingest.config import ExtractConfig

if TYPE_CHECKING:
    from newsflow.ingest.feedparse import FeedEntry

# Bigger decompressed pages are refused rather than parsed (a gzip bomb, a data dump).
MAX_PAGE_BYTES = 50_000_000
# A page date this far from the feed's published date is a wrong guess (a copyright year,
# a date in a sidebar): the feed's wins.
MAX_DATE_DISAGREEMENT = timedelta(days=7)
# Names that hosting platforms put in JSON-LD publisher / generator: not the site's name.
PLATFORM_NAMES = frozenset({"blogger", "blogspot", "wordpress", "wordpress.com", "medium", "substack", "tumblr", "ghost"})
# htmldate keeps the time and offset when the page gives them (article:published_time, JSON-LD).
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"OggS", b"ID3",
          b"RIFF", b"\x00\x00\x01\x00", b"\x00asm", b"\x7fELF", b"(\xb5/\xfd")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-z0-9_.:+-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.:+-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-z0-9_.:+-]+)", re.I)
# What browsers decode these labels as (WHATWG Encoding): pages labelled latin-1 are cp1252.
_WHATWG = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
           "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874",
           "gb2312": "gb18030", "gbk": "gb18030", "x-sjis": "shift_jis", "ks_c_5601-1987": "euc-kr"}
# Legacy encodings still seen on the web (python codec names, as charset_normalizer gives them).
_COMMON_LEGACY = frozenset({
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "cp874",
    "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_8", "iso8859_9", "iso8859_15", "koi8_r", "koi8_u",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "euc_kr", "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
})
_WORDS = re.compile(r"\w+")
_BARE_URL = re.compile(r"https?://\S+")
MAX_HEADLINE_WORDS = 40  # a longer first line is a paragraph, whatever the title says
LAYOUT_TABLE_SHARE = 0.5
MAX_KICKER_WORDS = 6  # "Opinion", "Entermedia news": a label above the headline
MIN_LEAD_WORDS = 8  # a shorter description is a tagline, not a lead
LEAD_MATCH_WORDS = 12
# Languages whose news treat the lead as the headline's subtitle (English "dek", "standfirst"),
# not as the article's first paragraph (German "Vorspann", French "chapô", Spanish
# "entradilla", Polish "lead"): there it stays out of the text (it is the summary anyway).
# Chosen on the two development sets, whose truths follow these two conventions (docs/extraction.md).
LEAD_NOT_TEXT_LANGUAGES = ("en",)
_NOT_SHOWN = frozenset({"meta", "script", "style", "head", "title", "noscript", "template"})
T = TypeVar("T")


class ExtractionError(ValueError):
    """A page that gives no article. ``kind``: "not_html", "no_text", "too_large" or "bad_url"."""

    def __init__(self, message: str, *, kind: str, url: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.url}" if self.url else self.args[0]


@dataclass
class Extraction:
    """An article with what was done to get it: chrome lines removed, choices worth logging."""

    article: Article
    removed: list[Removed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_page(path: str | Path, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
    """A saved page's bytes, gunzipped when the file is gzip (by content, whatever its name)."""
    data = Path(path).read_bytes()
    return _gunzip(data, max_bytes, str(path)) if data[:2] == b"\x1f\x8b" else data


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
    return extract(html, url, entry, feed_url, settings, content_type=content_type).article


def extract(
    html: bytes | str,
    url: str,
    entry: FeedEntry | None = None,
    feed_url: str | None = None,
    settings: ExtractConfig | None = None,
    *,
    content_type: str | None = None,
    ablate: frozenset[str] = frozenset(),
) -> Extraction:
    """As ``extract_article``, with the removed chrome lines and notes for logs and counters.

    ``ablate`` switches ideas off, for the benchmark's ablation (newsflow/bench_extraction.py):
    "page_headlines" (match the body's first line against trafilatura's title only, not the
    page's <title>, og:title and h1s), "second_opinion" (precision mode on layout tables),
    "tail_check" (readability confirms the last lines), "lead" (put back the shown lead),
    "role_boxes" (lines whose source element has a non-article role, ``_RoleBoxes``),
    "credits" (image credits, advertising labels, datelines: ``ingest.boilerplate.strip_credits``),
    "inner_chrome" and
    "calls_to_action" (see ``ingest.boilerplate.strip_chrome``).
    """
    settings = settings or ExtractConfig()
    notes: list[str] = []
    try:
        fetched_url = canonical_url(url)
    except InvalidURL as exc:
        raise ExtractionError(str(exc), kind="bad_url", url=url) from exc

    text_in = html if isinstance(html, str) else decode_html(html, content_type, url)
    if not text_in.strip():
        raise ExtractionError("no extractable text (empty page)", kind="no_text", url=url)
    tree = load_html(text_in)
    if tree is None:
        raise ExtractionError("not an HTML document", kind="not_html", url=url)
    metas = _metas(tree)

    readability: list[HtmlElement] = []
    boxes = _RoleBoxes()
    token, boxes_token = _READABILITY_SINK.set(readability), _ROLE_BOX_SINK.set(boxes)
    try:
        doc = _trafilatura(tree, url)
    finally:
        _READABILITY_SINK.reset(token)
        _ROLE_BOX_SINK.reset(boxes_token)
    if doc is not None:
        try:
            _page_metadata(doc, tree, url, feed_has_authors=bool(entry and any(entry.authors)))
        except (ValueError, TypeError) as exc:  # htmldate's or trafilatura's failure on an odd page
            notes.append(f"page metadata unreadable ({exc}); the feed's fills in")
    text, removed = _text(doc, settings, ablate)
    if text and "second_opinion" not in ablate and _layout_table(text):
        # A layout table read as the article: trafilatura's precision mode usually finds
        # the real body in it. Its answer must not be a table dump as well.
        strict = _trafilatura(tree, url, favor_precision=True)
        strict_text, strict_removed = _text(strict, settings, ablate)
        if strict is not None and strict_text and not _layout_table(strict_text):
            notes.append("layout table in the body: took trafilatura's precision mode")
            strict.title, strict.author, strict.description = doc.title, doc.author, doc.description
            strict.sitename, strict.date, strict.language = doc.sitename, doc.date, doc.language
            doc, text, removed = strict, strict_text, strict_removed
    if doc is not None and text:
        headlines = (_headlines(tree, doc.title, metas) if "page_headlines" not in ablate
                     else [_WORDS.findall((doc.title or "").casefold())])
        text, title_removed = _drop_leading_title(text, [h for h in headlines if h])
        removed += title_removed
        if readability and "tail_check" not in ablate:
            text, tail_removed = unconfirmed_tail(text, " ".join(readability[0].itertext()))
            removed += tail_removed
        # Inside the text, after the tail check: readability confirms the text's last lines
        # as they were, and a credit under the last photo is often the last line it confirms.
        if "role_boxes" not in ablate:
            text, box_removed = lines_in_boxes(text, boxes.texts)
            removed += box_removed
        if "credits" not in ablate and settings.boilerplate_filter:
            text, credit_removed = strip_credits(text)
            removed += credit_removed
        if "lead" not in ablate and _page_language(tree, metas) not in (None, *LEAD_NOT_TEXT_LANGUAGES):
            lead = _shown_lead(tree, doc.description, text, headlines)
            if lead:
                notes.append("put back the lead trafilatura skipped")
                text = f"{lead}\n\n{text}"
    if len(text) < max(settings.min_text_chars, 1):
        shown = f"{len(text)} chars < {settings.min_text_chars}" if text else "nothing"
        raise ExtractionError(f"no extractable text ({shown})", kind="no_text", url=url)
    assert doc is not None  # _text gives "" without a document, which raised above

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
        _page_language(tree, metas) or primary_language(doc.language), primary_language(entry.language) if entry else None
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

    article = Article.new(
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
    return Extraction(article, removed, notes)


# --- decoding ---------------------------------------------------------------------------


def decode_html(data: bytes, content_type: str | None = None, url: str | None = None) -> str:
    """Bytes -> str: BOM, else UTF-8, else the declared charset (HTTP, meta), else a guess.

    (Nearly) valid UTF-8 wins over a declaration because pages labelled latin-1 but written
    in UTF-8 are common, and legacy-encoded text is almost never valid UTF-8 by chance.
    Raises ExtractionError(kind="not_html") for binary data and "too_large" for a gzip bomb.
    """
    if data[:2] == b"\x1f\x8b":  # a gzipped body or file: the CLI and some servers hand these over
        data = _gunzip(data, MAX_PAGE_BYTES, url)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    head = data[:4096]
    if head.lstrip().startswith(_MAGIC) or b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 20:
        raise ExtractionError("binary content, not HTML", kind="not_html", url=url)
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    # Valid UTF-8, or UTF-8 with a few broken bytes (a pasted snippet in another encoding):
    # legacy text read as UTF-8 breaks at nearly every non-ASCII byte instead.
    if broken == 0 or broken <= len(_NON_ASCII.findall(text)) // 20:
        return text
    declared = [_HEADER_CHARSET.search(content_type or ""), _XML_ENCODING.search(head), _META_CHARSET.search(head)]
    for match in declared:
        encoding = _codec(match.group(1)) if match else None
        if encoding and encoding != "utf-8":  # a utf-8 label was just proven wrong
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                pass
    for guess in _guess_encodings(data):
        try:
            return data.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _guess_encodings(data: bytes) -> list[str]:
    """charset_normalizer's plausible decodings, the web's common legacy encodings first.

    Its own ranking on a few hundred bytes of Western text is noisy: iso8859-14 (Celtic)
    or cp1250 can beat cp1252 by a hair of "coherence" and turn "«ça»" into "ḋçaṠ" or
    "naïve" into "naďve". So: common web encodings before rare ones, then less chaos, then
    more coherence, and on a tie cp1252, what undeclared legacy pages mostly are.
    """
    sample = data if len(data) < 20_000 else data[:10_000] + data[-10_000:]
    results = list(from_bytes(sample)) or list(from_bytes(data))
    results.sort(key=lambda r: (r.encoding not in _COMMON_LEGACY, r.chaos, -r.coherence, r.encoding != "cp1252"))
    return [r.encoding for r in results if r.encoding != "utf_8"]  # utf-8 was proven wrong already


def _codec(label: str | bytes) -> str | None:
    name = (label.decode("ascii", "ignore") if isinstance(label, bytes) else label).strip().lower()
    name = _WHATWG.get(name, name)
    try:
        return codecs.lookup(name).name.replace("_", "-")
    except LookupError:
        return None


def _gunzip(data: bytes, max_bytes: int, where: str | None) -> bytes:
    out = zlib.decompressobj(31)  # 31: gzip header
    try:
        body = out.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ExtractionError(f"corrupt gzip data ({exc})", kind="not_html", url=where) from exc
    if len(body) > max_bytes:
        raise ExtractionError(f"page over {max_bytes} bytes once gunzipped", kind="too_large", url=where)
    if not body and not out.eof:  # a truncated stream still gives its text; this gave nothing
        raise ExtractionError("corrupt gzip data (no content)", kind="not_html", url=where)
    return body


# --- text -------------------------------------------------------------------------------


def _text(
    doc: trafilatura.settings.Document | None, settings: ExtractConfig, ablate: frozenset[str] = frozenset()
) -> tuple[str, list[Removed]]:
    """trafilatura's body as text, one block (paragraph, heading, quote, list, table) per
    paragraph, blocks separated by a blank line; then the chrome filter."""
    if doc is None or doc.body is None:
        return "", []
    body = doc.body
    blocks = [body.text.strip()] if body.text and body.text.strip() else []
    for child in body:
        block = xmltotxt(child, False).strip()
        if block:
            blocks.append(block)
    text = unicodedata.normalize("NFC", "\n\n".join(blocks))  # as trafilatura.extract() does
    if not settings.boilerplate_filter:
        return text, []
    return strip_chrome(text, inner="inner_chrome" not in ablate, calls_to_action="calls_to_action" not in ablate)


def _headlines(tree: HtmlElement, title: str | None, metas: dict[str, str]) -> list[list[str]]:
    """The page's headline as its parts spell it (token lists): trafilatura's title, <title>,
    og:title and the first h1s. <title> usually carries a " - Site name" suffix, hence prefixes."""
    found = [title, metas.get("og:title"), metas.get("twitter:title")]
    head_title = tree.find(".//title")
    if head_title is not None:
        found.append(head_title.text_content())
    for i, h1 in enumerate(tree.iter("h1")):
        if i >= 3:
            break
        found.append(h1.text_content())
    return [toks for toks in (_WORDS.findall(t.casefold()) for t in found if t) if toks]


def _is_headline(line: str, headlines: list[list[str]]) -> bool:
    toks = _WORDS.findall(line.casefold())
    if not toks or len(toks) > MAX_HEADLINE_WORDS:
        return False
    # A one- or two-word line matches only a whole title ("News" is no headline of "News of...").
    return any(toks == h or (len(toks) >= 3 and h[: len(toks)] == toks) for h in headlines)


def _trafilatura(tree: HtmlElement, url: str, **options: bool) -> trafilatura.settings.Document | None:
    return trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # _page_metadata: the fields we use, at half the cost
        include_comments=False,
        output_format="txt",  # we serialise doc.body ourselves; skips trafilatura's own pass
        **options,
    )


# --- second opinion: readability ---------------------------------------------------------
# trafilatura (default mode) runs readability on every page as its safety net, compares, and
# throws readability's answer away when its own wins. That answer is a second opinion we want
# (``ingest.boilerplate.unconfirmed_tail``), and computing it again would cost an eighth of the
# extractor's time; so trafilatura's call goes through a recorder, which keeps the first
# answer for the ``extract`` call that set the sink (a context variable: threads and
# concurrent calls keep their own). Should trafilatura stop calling ``try_readability``,
# nothing is recorded and the check does not run (tests/test_extractor.py says so).
_READABILITY_SINK: contextvars.ContextVar[list[HtmlElement] | None] = contextvars.ContextVar(
    "readability_sink", default=None
)
_try_readability = getattr(trafilatura.external, "try_readability", None)
_try_readability = getattr(_try_readability, "__wrapped__", _try_readability)  # a reloaded module wraps once


def _recorded_readability(tree: HtmlElement) -> HtmlElement:
    assert _try_readability is not None
    result = _try_readability(tree)
    sink = _READABILITY_SINK.get()
    if sink is not None and not sink and result is not None and len(result):
        sink.append(result)
    return result


if _try_readability is not None:
    _recorded_readability.__wrapped__ = _try_readability  # type: ignore[attr-defined]
    trafilatura.external.try_readability = _recorded_readability


# --- role boxes: the source element of each block --------------------------------------
# trafilatura's output blocks carry no trace of the element they came from, and looking the
# lines up in the page again costs a twentieth of the extractor's time. trafilatura itself
# hands every candidate block's source element to ``handle_textelem``; a recorder around it
# asks, for the blocks it keeps, whether that element or an ancestor has a class or id that
# names a role never article text (``ROLE_WORDS``): a newsletter or sign-up form, a
# disclaimer, an affiliate disclosure, a photo credit, a cookie notice. trafilatura discards
# some of these names itself, but its guard against over-pruning puts them back on some
# pages. The answer per ancestor is cached, so siblings cost one dictionary lookup.
ROLE_WORDS = re.compile(
    r"newsletter|disclaimer|disclosure|affiliate|credit|consent|cookie|registration|sign-?up|subscri|(?<![a-z])cta(?![a-z])"
    r"|read(?:ing)?-?time|author-?(?:box|bio|info)|about-?(?:the-?)?author",
    re.IGNORECASE,
)
# WordPress lists a post's categories and tags among its classes ("category-newsletter").
_TAXONOMY_CLASS = re.compile(r"\b(?:tag|category|categories|topic|post_tag|section)-\S*", re.IGNORECASE)
_ROLE_STOP = frozenset({"body", "html", "article", "main"})


@dataclass
class _RoleBoxes:
    texts: list[str] = field(default_factory=list)
    known: dict[HtmlElement, bool] = field(default_factory=dict)  # holds the proxies, so lookups hit

    def holds(self, element: HtmlElement) -> bool:
        path = []
        el, found = element, False
        while el is not None and isinstance(el.tag, str) and el.tag not in _ROLE_STOP:
            if el in self.known:
                found = self.known[el]
                break
            path.append(el)
            names = f"{el.get('class') or ''} {el.get('id') or ''}"
            if names.strip() and ROLE_WORDS.search(_TAXONOMY_CLASS.sub(" ", names)):
                found = True
                break
            el = el.getparent()
        for seen in path:
            self.known[seen] = found
        return found


_ROLE_BOX_SINK: contextvars.ContextVar[_RoleBoxes | None] = contextvars.ContextVar("role_box_sink", default=None)
_handle_textelem = trafilatura.main_extractor.handle_textelem
_handle_textelem = getattr(_handle_textelem, "__wrapped__", _handle_textelem)  # a reloaded module wraps once


def _recorded_textelem(element, potential_tags, options):  # type: ignore[no-untyped-def]
    result = _handle_textelem(element, potential_tags, options)
    boxes = _ROLE_BOX_SINK.get()
    if result is not None and boxes is not None and boxes.holds(element):
        boxes.texts.append(" ".join(result.itertext()))
    return result


_recorded_textelem.__wrapped__ = _handle_textelem  # type: ignore[attr-defined]
trafilatura.main_extractor.handle_textelem = _recorded_textelem


def _shown_lead(tree: HtmlElement, description: str | None, text: str, headlines: list[list[str]]) -> str | None:
    """The lead (teaser, standfirst, chapô) the page shows and the text lacks, as shown.

    trafilatura skips the lead when it sits in its own box above the body. The page's meta
    description is (nearly always) that lead: its first words locate the element on the
    page; the smallest element holding its first ``LEAD_MATCH_WORDS`` words, if not much
    longer than the description, is the lead. None when the text has it already, or the page
    does not show it (a description written for search engines only).
    """
    desc = _WORDS.findall((description or "").casefold())
    if len(desc) < MIN_LEAD_WORDS:
        return None
    head = " ".join(desc[:LEAD_MATCH_WORDS])
    if head in " ".join(_WORDS.findall(text.casefold())):
        return None
    start = re.compile(r"\W+".join(re.escape(w) for w in desc[:4]), re.IGNORECASE)
    el = None
    for e in tree.iter():
        if not isinstance(e.tag, str) or e.tag in _NOT_SHOWN:
            continue
        if e.text and start.search(e.text):
            el = e
            break
        if e.tail and start.search(e.tail):  # "<p><b>Berlin.</b> Die ...": the words follow a child
            el = e.getparent()
            break
    while el is not None:
        words = _WORDS.findall(el.text_content().casefold())
        if len(words) > 3 * len(desc) + 50:  # a container: the description's words are scattered
            return None
        if head in " ".join(words):
            lead = " ".join(el.text_content().split())
            # A description that is the headline: the title is a field of its own.
            return None if el.tag == "h1" or _is_headline(lead, headlines) else unicodedata.normalize("NFC", lead)
        el = el.getparent()
    return None


def _layout_table(text: str) -> bool:
    """Most of the text in table rows ("| cell | cell |"): a page laid out with tables, whose
    row trafilatura took whole, navigation and all."""
    rows = sum(len(line) for line in text.split("\n") if line.lstrip().startswith("|"))
    return rows > LAYOUT_TABLE_SHARE * len(text)


def _drop_leading_title(text: str, headlines: list[list[str]]) -> tuple[str, list[Removed]]:
    """The title is a field of its own; many themes put the h1 at the top of the body,
    sometimes after a kicker or a bare link (a share url)."""
    lines = text.split("\n")
    shown = [i for i, line in enumerate(lines) if line.strip()][:2]
    for n, i in enumerate(shown):
        if not _is_headline(lines[i], headlines):
            continue
        before = lines[shown[0]].strip() if n else ""
        if n and not (_BARE_URL.fullmatch(before) or len(_WORDS.findall(before)) <= MAX_KICKER_WORDS):
            break  # a sentence before it: the "headline" is a quote of it inside the text
        removed = [Removed(lines[k].strip(), "title", "head") for k in shown[: n + 1]]
        return "\n".join(lines[i + 1:]).lstrip("\n"), removed
    return text, []


# --- metadata ---------------------------------------------------------------------------


def _metas(tree: HtmlElement) -> dict[str, str]:
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


def _page_metadata(doc: trafilatura.settings.Document, tree: HtmlElement, url: str, *, feed_has_authors: bool = False) -> None:
    """trafilatura's ``extract_metadata`` for the fields an Article has, onto ``doc``.

    The same steps (meta tags, then JSON-LD over them, the title and author fallbacks,
    htmldate) minus what we drop anyway (categories, tags, licence, hostname), and cheaper:

    * the byline search (regex tests on every element: a sixth of the extractor's time)
      looks only inside the page's <article> or <main>, where bylines are, and not at all
      when the feed entry names the authors (they are used then);
    * htmldate's quick search only (meta tags, JSON-LD, url, time elements): the extensive
      one runs dateparser over the page text, costs more than the whole text extraction on
      some pages and guesses wrong often; the feed entry's date fills the gap (_published).
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
    the whole tree costs a sixth of the extractor's time and finds a sidebar name as often."""
    for path in (".//article", ".//main", ".//*[@role='main']"):
        found = tree.find(path)
        if found is not None:
            return found
    return None


def _page_language(tree: HtmlElement, metas: dict[str, str]) -> str | None:
    return primary_language(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
                     or metas.get("content-language") or metas.get("og:locale"))

