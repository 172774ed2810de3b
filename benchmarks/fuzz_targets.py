"""Property-based fuzzing of the parsers and the extractor: the strategies and the properties that
tests/test_fuzz.py (a short run in CI) and `newsflow bench fuzz` (a long one, before a release) share.

Each ``Target`` is one pure function of the ingest side, a hypothesis strategy of its inputs and
the property every input must satisfy: the function returns a well-formed result (its invariants
checked) or raises its documented error, never another exception type, within a time budget per
example (the hypothesis ``deadline``) and, where a bomb is the danger, within a memory budget
(``tracemalloc``). An unexpected exception is a failure as it is: the property does not catch it.

Inputs are mostly **mutated real documents**: the seed blog's pages and feeds, the feed fixtures
of the tests, a few pages of ``<shared>/bench/extraction`` when present, changed by byte flips,
truncation, deletion, repetition, re-encoding and insertion of hostile fragments (DTDs and entity
bombs, entity references, huge attributes, deep nesting, BOMs and charset labels, NULs, invalid
UTF-8, CDATA, comments); the rest are generated (urls, feeds built from drawn strings, compressed
bodies chunked at drawn offsets).
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import tracemalloc
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from benchmarks.corpus import REPO, shared_dir

URL = "http://news.example.com/feeds/posts/default"
PAGE_URL = "https://news.example.com/2024/05/some-article.html"

# --- seeds ----------------------------------------------------------------------------------------

SEED_SITE = REPO / "seeds" / "site"
FEED_FIXTURES = REPO / "tests" / "fixtures" / "feeds"
SHARED_PAGES = 6  # of each extraction set, the smallest: enough variety, cheap to extract
MAX_SEED_PAGE = 120_000

MINIMAL_FEEDS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><link>http://a.example/</link>'
    b"<item><title>One</title><link>/a/1.html</link><guid isPermaLink=\"false\">g1</guid>"
    b"<pubDate>Mon, 06 May 2024 10:00:00 +0200</pubDate><description>&lt;p&gt;x&lt;/p&gt;</description></item>"
    b"</channel></rss>",
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>'
    b'<entry><id>urn:e1</id><title type="html">&lt;b&gt;E&lt;/b&gt;</title><link href="http://a.example/e1"/>'
    b'<updated>2024-05-06T10:00:00Z</updated><content type="html"><![CDATA[<p>body</p>]]></content>'
    b"<author><name>Ann</name></author><category term=\"news\"/></entry></feed>",
    b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    b'xmlns="http://purl.org/rss/1.0/"><channel><title>R</title></channel>'
    b'<item rdf:about="http://a.example/r1"><title>R1</title><link>http://a.example/r1</link></item></rdf:RDF>',
)

MINIMAL_PAGE = (
    b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>A headline - Site</title>"
    b'<link rel="canonical" href="/2024/05/some-article.html"></head><body><header>Menu</header><article>'
    b"<h1>A headline</h1>"
    + b"".join(b"<p>Paragraph %d of the article says something long enough to count as text, "
               b"with a few more words in it.</p>" % i for i in range(8))
    + b"</article><footer>Copyright</footer></body></html>"
)

MINIMAL_OPML = (
    b'<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>s</title></head><body>'
    b'<outline text="News"><outline type="rss" text="A" xmlUrl="https://a.example/feed" htmlUrl="https://a.example/"/>'
    b'<outline type="rss" text="B &amp; C" xmlurl="http://b.example/rss?x=1&amp;y=2"/></outline>'
    b'<outline type="rss" title="C" xmlUrl="http://c.example/atom"/></body></opml>'
)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@lru_cache(maxsize=1)
def seed_feeds() -> tuple[bytes, ...]:
    files = [SEED_SITE / "rss.xml", SEED_SITE / "feeds" / "posts" / "default.xml", *sorted(FEED_FIXTURES.glob("*.xml"))]
    found = [_read(f) for f in files if f.is_file()]
    return tuple(d for d in found if d.strip()) + MINIMAL_FEEDS


@lru_cache(maxsize=1)
def seed_pages() -> tuple[bytes, ...]:
    files = sorted(SEED_SITE.glob("post-*.html")) + sorted((SEED_SITE / "variants").glob("*.html"))[:2]
    shared = shared_dir()
    if shared is not None:  # a checkout with ../shared beside it (CI, developers); a wheel has none
        for dataset in sorted((shared / "bench" / "extraction").iterdir()):
            pages = sorted((dataset / "html").glob("*"), key=lambda p: (p.stat().st_size, p.name)) if (dataset / "html").is_dir() else []
            files += pages[len(pages) // 3:][:SHARED_PAGES]  # small, not the tiniest (often stubs)
    pages = [_read(f) for f in files]
    return tuple(p for p in pages if len(p) <= MAX_SEED_PAGE) + (MINIMAL_PAGE,)


@lru_cache(maxsize=1)
def seed_opml() -> tuple[bytes, ...]:
    from newsflow.ingest.opml import write_opml

    listed = write_opml([f"https://site{i}.example/feed.xml" for i in range(5)], now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    return (MINIMAL_OPML, listed)


# --- hostile fragments ----------------------------------------------------------------------------


def _laughs(levels: int, root: bytes = b"rss") -> bytes:
    ents = b'<!ENTITY l0 "lollollollollollollollollollol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, levels + 1))
    return b"<!DOCTYPE %s [%s]>" % (root, ents)


BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\x2b\x2f\x76\x38")
# Labels a page or feed may declare. Codecs that are not text encodings ("base64", "hex", "rot13",
# "undefined") are declared to the page targets in the header (PAGE_CONTENT_TYPES).
CHARSETS = (b"utf-8", b"UTF-16", b"utf-16le", b"utf-32", b"utf-7", b"iso-8859-1", b"windows-1252", b"shift_jis",
            b"gb2312", b"koi8-r", b"cp500", b"x-user-defined", b"bogus-charset", b"", b"utf-8\x00", b"idna", b"punycode")
PROLOG_PADDING = b"<!--" + b" " * (1 << 20) + b"-->"  # pushes what follows past a 1 MB prolog scan

COMMON_FRAGMENTS = (
    # DTDs: entity bombs, external entities, parameter entities, unterminated subsets
    _laughs(6), _laughs(9), _laughs(4, b"html"),
    b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;",
    b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">', b"<!DOCTYPE rss [", b"<!DOCTYPE html>", b"<!ENTITY a \"b\">",
    PROLOG_PADDING,
    # entity and character references
    b"&l6;", b"&a;" * 200, b"&#0;", b"&#x0;", b"&#xD800;", b"&#1114112;", b"&#99999999999999999999;", b"&amp;amp;",
    b"&", b"&#", b"&nbsp;", b"&copy", b"&#x1F600;",
    # huge attributes, many attributes, deep nesting, long text
    b'<a href="' + b"x" * 500_000 + b'">', b"<p " + b" ".join(b'a%d="1"' % i for i in range(3000)) + b">",
    b'<p a="1" a="2" b=c d>', b"<div>" * 3000, b"</div>" * 3000, b"<b><i>" * 1500, b"<table><tr><td>" * 300,
    b"word " * 40_000, b"x" * 200_000,
    # NULs, controls, invalid UTF-8, BOMs in the middle
    b"\x00", b"\x00" * 64, bytes(range(1, 32)), b"\xff\xfe\xfd", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xe2\x82", b"\x80" * 50, *BOMS,
    # declarations of encodings
    *(b'<?xml version="1.0" encoding="%s"?>' % c for c in CHARSETS),
    *(b'<meta charset="%s">' % c for c in CHARSETS[:8]),
    b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    # CDATA, comments, processing instructions
    b"<![CDATA[", b"]]>", b"<![CDATA[<script>x</script>]]>", b"<![CDATA[<![CDATA[]]>]]>",
    b"<!--", b"-->", b"<!-- -- -->", b"<!--->", b"<!--" + b"-" * 5000,
    b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>', b"<?php echo 1; ?>", b"<?",
    # scripts and raw-text elements left open, odd namespaces
    b"<script>", b"<script>document.write('</scr'+'ipt>')", b"<style>", b"<textarea>", b"<plaintext>",
    b'<x xmlns:a="" a:b="1">', b'<x:y xmlns:x="urn:x">', b"</>",
    # links and dates
    b"<link>javascript:alert(1)</link>", b'<a href="http://[::1">x</a>', b'<link rel="canonical" href="//other.example/x">',
    b'<link rel="canonical" href="http://%zz/">', b'<link rel="canonical" href="http://news.example.com/">',
    b"<pubDate>Mon, 99 Foo 99999 99:99:99 +9999</pubDate>", b"<updated>0000-00-00T00:00:00Z</updated>",
    b"<published>9999-12-31T23:59:59-23:59</published>", b"<pubDate>Sat, 01 Jan 0001 00:00:00 +1400</pubDate>",
)

FEED_FRAGMENTS = COMMON_FRAGMENTS + (
    b"<item></item>", b"<item><guid>  </guid></item>", b"<item><guid>\x00</guid><title>\x01</title></item>",
    b'<entry><id></id><link href=""/></entry>', b"<entry><id>   </id><title> </title></entry>",
    b"<item><title>&lt;b&gt;x</title><description><![CDATA[<p>x</p><script>y</script>]]></description></item>",
    b"<item><link>  http://a.example/x  </link></item>", b"<item><author>a@b.example</author></item>",
    b"<item>" + b"<category>c</category>" * 2000 + b"</item>", b"<item><guid>g</guid></item>" * 500,
    b'<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/"><![CDATA[<div>' + b"<p>t</p>" * 100,
    b'<rss version="2.0">', b"</channel></rss>", b'<feed xmlns="http://www.w3.org/2005/Atom">', b"</feed>",
    b"<html><body>not a feed</body></html>", b'<?xml version="1.0" encoding="undefined"?>',
    # plain text entities: expanded by parse_feed, their growth bounded
    b'<!DOCTYPE rss [<!ENTITY big "' + b"x" * 100_000 + b'"><!ENTITY id "tag:a,"><!ATTLIST item a CDATA #IMPLIED>]>',
    b"&big;" * 20, b"&id;", b'<!DOCTYPE rss [<!ENTITY a "&#60;b&#62;">]>', b"<!DOCTYPE rss [<!ENTITY q '\"'>]>",
)

PAGE_FRAGMENTS = COMMON_FRAGMENTS + (
    b"<html>", b"</html>", b"<body>", b"</body>", b"<article>", b"</article>", b"<head>", b'<base href="http://127.0.0.1/">',
    b'<meta property="og:url" content="https://news.example.com/other">', b'<meta property="og:title" content="\x00">',
    b'<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"99999-01-01",'
    b'"author":{"name":[1,2]},"headline":{"a":null}}</script>',
    b'<script type="application/ld+json">{{{{[[[</script>', b'<time datetime="2024-13-45T99:99">x</time>',
    b'<meta name="date" content="0001-01-01">', b'<html lang="\x00">', b'<html lang="' + b"e" * 10_000 + b'">',
    b"<p>" + b"A sentence that is long enough to be kept as the text of the article. " * 30 + b"</p>",
    b"<h1>A headline</h1>", b"<figure><figcaption>Photo: AP</figcaption></figure>", b"<br>" * 5000,
    b"<svg><foreignObject><p>x</p></foreignObject></svg>", b"<math><mi>x</mi></math>", b"<template><p>t</p></template>",
)

OPML_FRAGMENTS = COMMON_FRAGMENTS + (
    b'<outline xmlUrl="http://a.example/&b" text="x"/>', b'<outline xmlUrl="file:///etc/passwd"/>',
    b'<outline text="f"><outline xmlUrl="http://x.example/"/></outline>', b'<outline xmlUrl=" HTTP://Y.example/ "/>',
    b"<outline>" * 300, b"</outline>" * 300, b"<body>", b"</body>", b"<opml>", b"</opml>", b'<outline XMLURL="http://z/"/>',
    _laughs(6, b"opml"),
)


# --- mutations ------------------------------------------------------------------------------------


def _position(draw: Any, data: bytes) -> int:
    """Anywhere, or at a tag's start or end (where a fragment changes the structure)."""
    at = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        tag = data.find(b"<" if draw(st.booleans()) else b">", at)
        at = tag if tag >= 0 else at
    return at


def _prolog(data: bytes) -> int:
    """Just after the XML declaration, or the start: where a DOCTYPE goes."""
    end = data.find(b"?>") if data.lstrip()[:5] == b"<?xml" else -1
    return end + 2 if end >= 0 else 0


@st.composite
def mutated(draw: Any, seeds: tuple[bytes, ...], fragments: tuple[bytes, ...], max_mutations: int = 4) -> bytes:
    """A seed document changed by up to ``max_mutations`` mutations."""
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, max_mutations))):
        op = draw(st.sampled_from(("insert", "insert", "prolog", "flip", "truncate", "delete", "repeat", "bytes",
                                   "prefix", "reencode")))
        if op in ("insert", "prolog"):
            at = _position(draw, data) if op == "insert" else _prolog(data)
            fragment = draw(st.sampled_from(fragments))
            if op == "prolog" and draw(st.booleans()):  # a DTD (or else) past the first megabyte
                fragment = PROLOG_PADDING + fragment
            data = data[:at] + fragment + data[at:]
        elif op == "flip" and data:
            for _ in range(draw(st.integers(1, 8))):
                at = draw(st.integers(0, len(data) - 1))
                data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif op == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif op == "delete":
            at = _position(draw, data)
            data = data[:at] + data[at + draw(st.integers(1, 2000)):]
        elif op == "repeat":
            at = _position(draw, data)
            data = data[:at] + data[at:at + draw(st.integers(1, 300))] * draw(st.integers(2, 500)) + data[at:]
        elif op == "bytes":
            at = _position(draw, data)
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif op == "prefix":
            data = draw(st.sampled_from(BOMS + (b"\x00", b" \n\t", b"\x0c", b"<?xml version='1.0'?>"))) + data
        elif op == "reencode":
            codec = draw(st.sampled_from(("utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "gb18030", "cp500", "utf-7")))
            data = data.decode("utf-8", "replace").encode(codec, "replace")
    return data


# --- generated inputs -----------------------------------------------------------------------------

_HOSTS = st.sampled_from(("example.com", "EXAMPLE.com.", "news.example.co.uk", "xn--bcher-kva.example", "bücher.example",
                          "127.0.0.1", "[::1]", "[fe80::1%25eth0]", "[::1", "0x7f.1", "a..b", "-a-.example", "",
                          "user:pass@host.example", "host.example:8080", "host.example:80", "host.example:99999",
                          "host.example:-1", "host.example:", "%41.example", "a" * 300 + ".example"))
_SCHEMES = st.sampled_from(("http://", "https://", "HTTP://", "hTtPs://", "//", "", "javascript:", "ftp://", "mailto:",
                            "data:text/html,", "http:/", "http:\\\\", "feed://", " http://"))
_SEGMENT = st.one_of(st.sampled_from((".", "..", "", "%2e", "%2E%2e", "a", "b c", "%zz", "%00", "ü", "🙂", ";p=1", "~u", "index.html")),
                     st.text(max_size=12))
_QUERY = st.lists(st.tuples(st.sampled_from(("utm_source", "fbclid", "gclid", "id", "page", "q", "", "a[]", "ref")),
                            st.text(max_size=8)), max_size=4)


@st.composite
def urls(draw: Any) -> str:
    """An url-like string: mostly shaped like an url, with hostile parts; sometimes any text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=80))
    path = "/".join(draw(st.lists(_SEGMENT, max_size=6)))
    url = draw(_SCHEMES) + draw(_HOSTS) + ("/" + path if path or draw(st.booleans()) else "")
    query = draw(_QUERY)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    if draw(st.booleans()):
        url += "#" + draw(st.text(max_size=10))
    if draw(st.integers(0, 9)) == 0:
        url = draw(st.sampled_from(("  ", "\t", "\n", "\x00", "\u200b"))).join((url, ""))
    return url


_FIELD = st.one_of(st.text(max_size=40), st.sampled_from(("", " ", "&amp;", "<b>x</b>", "]]>", "\u2028", "\ufeff")))
_DATES = st.one_of(st.sampled_from(("Mon, 06 May 2024 10:00:00 GMT", "2024-05-06T10:00:00+02:00", "yesterday", "",
                                    "Fri, 31 Dec 9999 23:59:59 -2359", "0000-00-00")), st.text(max_size=20))


@st.composite
def generated_feeds(draw: Any) -> bytes:
    """An RSS 2.0 or Atom document built from drawn strings (escaped or, sometimes, raw)."""
    raw = draw(st.integers(0, 4)) == 0

    def field(strategy: Any = _FIELD) -> str:
        value = draw(strategy)
        return value if raw else escape(value)

    atom = draw(st.booleans())
    items = []
    for _ in range(draw(st.integers(0, 4))):
        if atom:
            items.append(f"<entry><id>{field()}</id><title>{field()}</title><link href=\"{field(urls())}\"/>"
                         f"<updated>{field(_DATES)}</updated><summary type=\"html\">{field()}</summary></entry>")
        else:
            items.append(f"<item><title>{field()}</title><link>{field(urls())}</link><guid>{field()}</guid>"
                         f"<pubDate>{field(_DATES)}</pubDate><description>{field()}</description></item>")
    if atom:
        doc = f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{field()}</title>{"".join(items)}</feed>'
    else:
        doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{field()}</title>{"".join(items)}</channel></rss>'
    return doc.encode("utf-8", "surrogatepass")


CONTENT_TYPES = st.sampled_from((None, "application/rss+xml", "application/atom+xml; charset=utf-8", "text/xml; charset=iso-8859-1",
                                 "text/html; charset=utf-16", "text/plain", "application/octet-stream", "text/html;charset=\"bogus\"",
                                 "text/html; charset=shift_jis", "text/html; charset=", "\x00", "text/html; charset=utf-8"))
# Codecs that decode nothing: the feed parser refuses them; decode_html passes them over for a guess.
FEED_CONTENT_TYPES = st.one_of(CONTENT_TYPES, st.just("application/rss+xml; charset=undefined"))
PAGE_CONTENT_TYPES = st.one_of(CONTENT_TYPES, st.sampled_from(tuple(
    f"text/html; charset={label}" for label in ("base64", "hex", "rot13", "zlib", "undefined"))))


# --- the targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One input of a target: its bytes (saved as a file on failure) and its other arguments."""

    data: bytes
    args: dict[str, Any]

    def files(self) -> dict[str, bytes]:
        args = "\n".join(f"{k} = {v!r}" for k, v in self.args.items())
        return {"input.bin": self.data, "args.txt": (args + "\n").encode("utf-8", "backslashreplace")}


@dataclass(frozen=True)
class Target:
    name: str
    cases: Any  # a hypothesis strategy of Case
    check: Callable[[Case], None]  # the property: returns, or raises (AssertionError or the unexpected exception)
    examples: int  # per test run in CI
    deadline_ms: int  # per example: far above the usual, so only a hang or a blow-up passes it


class MemoryBound:
    """``with MemoryBound(limit):`` fails when Python allocations inside peak above ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __enter__(self) -> "MemoryBound":
        self.started = not tracemalloc.is_tracing()
        if self.started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc: Any) -> None:
        peak = tracemalloc.get_traced_memory()[1] - self.base
        if self.started:
            tracemalloc.stop()
        if exc[0] is None:
            assert peak <= self.limit, f"peak memory {peak} bytes over the bound of {self.limit}"


# feed parsing ------------------------------------------------------------------------------------

FEED_KINDS = {"empty", "entity_expansion", "not_a_feed", "malformed"}


def _feed_size(feed: Any) -> int:
    size = len(feed.title or "")
    for e in feed.entries:
        size += sum(len(v or "") for v in (e.entry_id, e.link, e.title, e.summary, e.content))
    return size


def check_feed(case: Case) -> None:
    from newsflow.ingest.feedparse import MAX_ENTITY_GROWTH, FeedError, ParsedFeed, parse_feed

    try:
        feed = parse_feed(case.data, URL, case.args["content_type"])
    except FeedError as exc:
        assert exc.kind in FEED_KINDS, exc.kind
        return
    assert isinstance(feed, ParsedFeed)
    for entry in feed.entries:
        assert isinstance(entry.entry_id, str) and entry.entry_id, entry
        assert entry.entry_id == entry.entry_id.strip(), entry.entry_id
        assert entry.link is None or isinstance(entry.link, str)
        for when in (entry.published, entry.updated):
            assert when is None or when.tzinfo is not None
    # Entity expansion, by any route: what comes out is of the order of what came in (plus the
    # bounded growth of the plain entities parse_feed expands itself).
    bound = 8 * (len(case.data) + MAX_ENTITY_GROWTH) + 100_000
    assert _feed_size(feed) <= bound, f"{_feed_size(feed)} chars out of {len(case.data)} bytes"
    again = parse_feed(case.data, URL, case.args["content_type"])  # the poller's "seen" keys are stable
    assert [e.entry_id for e in again.entries] == [e.entry_id for e in feed.entries]


# url handling ------------------------------------------------------------------------------------


def check_url(case: Case) -> None:
    from newsflow.ingest.urls import InvalidURL, canonical_url

    link, base = case.args["link"], case.args["base"]
    try:
        url = canonical_url(link, base)
    except InvalidURL:
        return
    assert isinstance(url, str)
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https"), url
    assert parts.hostname, url
    assert "#" not in url, url
    assert canonical_url(url) == url, f"not idempotent: {url!r} -> {canonical_url(url)!r}"


# content decoding --------------------------------------------------------------------------------

CAPS = (0, 1, 100, 4096, 65_536, 1 << 20)


@lru_cache(maxsize=16)
def _bomb(size: int) -> bytes:
    return b"\0" * size


def _compress(plain: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(plain, compresslevel=6, mtime=0)
    if coding == "zlib":
        return zlib.compress(plain)
    if coding == "raw":
        c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return c.compress(plain) + c.flush()
    return plain


@lru_cache(maxsize=16)
def _bomb_sha1(size: int) -> str:
    return hashlib.sha1(_bomb(size)).hexdigest()


@lru_cache(maxsize=16)
def _compressed_bomb(size: int, coding: str) -> bytes:
    return _compress(_bomb(size), coding)


HEADERS = {"gzip": ("gzip", "x-gzip", " GZIP ", "gzip, identity", "identity, gzip"), "zlib": ("deflate", "Deflate"),
           "raw": ("deflate",), "identity": (None, "", "identity", " , ")}
REFUSED_HEADERS = ("gzip, gzip", "br", "zstd", "compress", "gzip;q=1", "deflate, gzip", "x-bogus", "\x00", "gzip\x00")


@st.composite
def decoder_cases(draw: Any) -> Case:
    coding = draw(st.sampled_from(("gzip", "zlib", "raw", "identity")))
    kind = draw(st.sampled_from(("bytes", "page", "bomb")))
    if kind == "bomb":
        size = draw(st.sampled_from((100_000, 2_000_000, 20_000_000)))
        body, sha1 = _compressed_bomb(size, coding), _bomb_sha1(size)  # neither is kept per example
    else:
        plain = draw(st.binary(max_size=3000)) if kind == "bytes" else draw(st.sampled_from(seed_pages()))
        size, body, sha1 = len(plain), _compress(plain, coding), hashlib.sha1(plain).hexdigest()
    header = draw(st.one_of(st.sampled_from(HEADERS[coding]), st.sampled_from(REFUSED_HEADERS), st.text(max_size=12))
                  if draw(st.integers(0, 5)) == 0 else st.sampled_from(HEADERS[coding]))
    intact = True
    damage = draw(st.sampled_from(("none", "none", "none", "flip", "truncate", "junk", "twice")))
    if damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body, intact = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1:], False
    elif damage == "truncate":
        body, intact = body[:draw(st.integers(0, len(body)))], False
    elif damage in ("junk", "twice"):  # after the stream's end: ignored, as browsers do
        body += draw(st.binary(min_size=1, max_size=40)) if damage == "junk" else body
        intact = coding != "identity"
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    cap = draw(st.sampled_from(CAPS))
    return Case(body, {"content_encoding": header, "cap": cap, "coding": coding, "plain_size": size, "intact": intact,
                       "plain_sha1": sha1,
                       "chunks": [len(c) for c in chunks]})


def check_decoder(case: Case) -> None:
    from newsflow.ingest.decompress import DecodingRefused, OverCap, decoder

    a = case.args
    try:
        dec = decoder(a["content_encoding"], a["cap"])
    except DecodingRefused:
        assert a["content_encoding"] not in HEADERS[a["coding"]], a["content_encoding"]
        return
    intact = a["intact"] and a["content_encoding"] in HEADERS[a["coding"]]  # labelled as encoded, undamaged
    sizes, at, out, produced = a["chunks"], 0, hashlib.sha1(), 0
    largest = max(sizes, default=0)
    with MemoryBound(3 * a["cap"] + 3 * largest + 2_000_000):
        try:
            for size in sizes:
                piece = dec.feed(case.data[at:at + size])
                at += size
                assert isinstance(piece, bytes)
                produced += len(piece)
                assert produced <= a["cap"], f"{produced} bytes out, over the cap of {a['cap']}"
                out.update(piece)
                del piece
        except OverCap:
            assert not intact or a["plain_size"] > a["cap"], "OverCap under the cap"
            return
        except zlib.error:
            assert not intact, "zlib.error on an intact body"
            return
    if intact:
        assert a["plain_size"] <= a["cap"], f"{a['plain_size']} bytes passed a cap of {a['cap']}"
        assert out.hexdigest() == a["plain_sha1"], "decoded bytes differ from the original"


# page decoding -----------------------------------------------------------------------------------

PAGE_KINDS = {"not_html", "too_large"}


@st.composite
def html_bytes(draw: Any) -> bytes:
    data = draw(mutated(seed_pages(), PAGE_FRAGMENTS))
    wrap = draw(st.sampled_from(("none", "none", "none", "gzip", "gzip-truncated", "gzip-bomb")))
    if wrap == "gzip":
        data = gzip.compress(data, mtime=0)
    elif wrap == "gzip-truncated":
        data = gzip.compress(data, mtime=0)
        data = data[:draw(st.integers(0, len(data)))]
    elif wrap == "gzip-bomb":
        data = _compressed_bomb(60_000_000, "gzip")
    return data


def check_decode_html(case: Case) -> None:
    from newsflow.ingest.extract.decoding import MAX_PAGE_BYTES, decode_html
    from newsflow.ingest.extract.errors import ExtractionError

    with MemoryBound(4 * MAX_PAGE_BYTES + 20 * len(case.data)):
        try:
            text = decode_html(case.data, case.args["content_type"], PAGE_URL)
        except ExtractionError as exc:
            assert exc.kind in PAGE_KINDS, exc.kind
            return
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogates: the article goes to the bus as UTF-8 JSON


def check_read_page(case: Case) -> None:
    from newsflow.ingest.extract.decoding import read_page
    from newsflow.ingest.extract.errors import ExtractionError

    cap = case.args["max_bytes"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html.gz"
        path.write_bytes(case.data)
        try:
            data = read_page(path, cap)
        except ExtractionError as exc:
            assert exc.kind in PAGE_KINDS, exc.kind
            return
    assert data == case.data if case.data[:2] != b"\x1f\x8b" else len(data) <= cap


# extraction --------------------------------------------------------------------------------------

EXTRACT_KINDS = {"not_html", "no_text", "too_large", "too_deep", "bad_url"}
PAGE_URLS = (PAGE_URL, "http://news.example.com/a/1.html?utm_source=x#top", "https://NEWS.example.com:443/a/../b/./c",
             "https://news.example.com", "javascript:alert(1)", "http://[::1", "https://bücher.example/ü")


def _entry(draw: Any) -> Any:
    from newsflow.ingest.feedparse import FeedEntry

    if draw(st.booleans()):
        return None
    return FeedEntry(entry_id=draw(st.text(min_size=1, max_size=20)), link=draw(st.sampled_from(PAGE_URLS)),
                     title=draw(st.one_of(st.none(), _FIELD)), summary=draw(st.one_of(st.none(), _FIELD)),
                     published=draw(st.sampled_from((None, datetime(2024, 5, 6, tzinfo=timezone.utc),
                                                     datetime(1, 1, 1, tzinfo=timezone.utc),
                                                     datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)))),
                     authors=tuple(draw(st.lists(_FIELD, max_size=3))), categories=tuple(draw(st.lists(_FIELD, max_size=3))),
                     language=draw(st.sampled_from((None, "en", "de-DE", "xx", ""))))


@st.composite
def extract_cases(draw: Any) -> Case:
    return Case(draw(html_bytes()), {"url": draw(st.sampled_from(PAGE_URLS)), "content_type": draw(PAGE_CONTENT_TYPES),
                                     "entry": _entry(draw), "feed_url": draw(st.sampled_from((None, URL)))})


def check_extract(case: Case) -> None:
    from newsflow.core.record import Article, article_id
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.extract.errors import ExtractionError
    from newsflow.ingest.urls import canonical_url

    a = case.args

    def run() -> Any:
        return extract_article(case.data, a["url"], a["entry"], a["feed_url"], content_type=a["content_type"])

    try:
        article = run()
    except ExtractionError as exc:
        assert exc.kind in EXTRACT_KINDS, exc.kind
        return
    assert isinstance(article.text, str) and article.text.strip()
    assert article.id == article_id(article.url)
    assert canonical_url(article.url) == article.url
    again = run()
    assert (again.id, again.url, again.text) == (article.id, article.url, article.text), "not deterministic"
    assert Article.from_json(article.to_json()).id == article.id  # it goes over the bus as JSON


# opml --------------------------------------------------------------------------------------------


def check_opml(case: Case) -> None:
    from newsflow.ingest.opml import OpmlError, OpmlImport, read_opml

    try:
        result = read_opml(case.data)
    except OpmlError:
        return
    assert isinstance(result, OpmlImport)
    urls_seen = [f.url for f in result.feeds]
    assert len(urls_seen) == len(set(urls_seen))
    for feed in result.feeds:
        assert feed.url.lower().startswith(("http://", "https://")), feed.url
        assert all(isinstance(c, str) and c for c in feed.categories)
    assert sum(len(f.url) + len(f.title or "") for f in result.feeds) <= 8 * len(case.data) + 100_000


# --- the list -------------------------------------------------------------------------------------


def targets() -> list[Target]:
    """Every target, in the order they run. Seeds are read here (a wheel has no checkout: none are missing
    there only because this module is not in the wheel)."""
    feeds, pages = seed_feeds(), seed_pages()
    return [
        Target("feed", st.builds(lambda d, ct: Case(d, {"content_type": ct}),
                                 st.one_of(mutated(feeds, FEED_FRAGMENTS), generated_feeds()), FEED_CONTENT_TYPES),
               check_feed, examples=60, deadline_ms=5_000),
        Target("url", st.builds(lambda link, base: Case(link.encode("utf-8", "surrogatepass"), {"link": link, "base": base}),
                                urls(), st.one_of(st.none(), st.just(PAGE_URL), urls())),
               check_url, examples=300, deadline_ms=1_000),
        Target("decoder", decoder_cases(), check_decoder, examples=80, deadline_ms=5_000),
        Target("decode_html", st.builds(lambda d, ct: Case(d, {"content_type": ct}), html_bytes(), PAGE_CONTENT_TYPES),
               check_decode_html, examples=40, deadline_ms=10_000),
        Target("read_page", st.builds(lambda d, cap: Case(d, {"max_bytes": cap}),
                                      st.one_of(html_bytes(), st.sampled_from(pages).map(lambda p: gzip.compress(p, mtime=0))),
                                      st.sampled_from((0, 100, 50_000, 50_000_000))),
               check_read_page, examples=30, deadline_ms=10_000),
        Target("extract", extract_cases(), check_extract, examples=20, deadline_ms=20_000),
        Target("opml", st.builds(lambda d: Case(d, {}), mutated(seed_opml(), OPML_FRAGMENTS)),
               check_opml, examples=60, deadline_ms=5_000),
    ]


# --- running --------------------------------------------------------------------------------------


def run_examples(target: Target, examples: int, *, derandomize: bool = False,
                 seed: int | None = None, on_case: Callable[[Case], None] | None = None) -> None:
    """Run ``target``'s property on ``examples`` drawn inputs with hypothesis: raises the (shrunk)
    failure. ``derandomize``: the same inputs on every run (CI); ``seed``: the inputs of that
    seed; else new ones each call."""
    from datetime import timedelta

    from hypothesis import given, settings
    from hypothesis import seed as with_seed

    @settings(max_examples=examples, deadline=timedelta(milliseconds=target.deadline_ms), database=None,
              derandomize=derandomize, report_multiple_bugs=False, print_blob=False)
    @given(target.cases)
    def prop(case: Case) -> None:
        if on_case is not None:
            on_case(case)
        target.check(case)

    (with_seed(seed)(prop) if seed is not None else prop)()
