"""parse_feed: bytes in, ParsedFeed or a clear FeedError out."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsflow.ingest.feedparse import FeedError, parse_feed
from tests.support.feeds_http import SEED_SITE

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
BASE = "https://example-news.blogspot.com/"


def test_seed_atom() -> None:
    feed = parse_feed((SEED_SITE / "feeds/posts/default.xml").read_bytes(), BASE + "feeds/posts/default.xml",
                      "application/atom+xml")
    assert feed.title == "Example News"
    assert not feed.bozo and feed.bozo_reason is None
    assert feed.version == "atom10"
    by_link = {e.link: e for e in feed.entries}
    talks = by_link[BASE + "post-us-russia-talks.html"]
    assert talks.entry_id == "tag:blogger.com,1999:blog-4827163950417283645.post-7093128465501927731"
    assert talks.title == "Ongoing US-Russia Talks: “Complicated.”"
    assert talks.published == datetime(2022, 1, 10, 13, 32, tzinfo=timezone.utc)
    assert talks.updated == datetime(2022, 1, 10, 14, 5, 48, tzinfo=timezone.utc)
    assert talks.authors == ("Anna Berg",)
    assert talks.categories == ("NATO", "Russia", "Ukraine", "USA", "World")
    assert talks.content is not None and "<blockquote>" in talks.content
    # Atom content is not a summary (feedparser copies it there): only a real summary counts.
    assert talks.summary is None


def test_seed_rss_matches_atom() -> None:
    atom = parse_feed((SEED_SITE / "feeds/posts/default.xml").read_bytes(), BASE + "feeds/posts/default.xml")
    rss = parse_feed((SEED_SITE / "rss.xml").read_bytes(), BASE + "rss.xml", "application/rss+xml")
    assert rss.version == "rss20" and not rss.bozo
    assert [(e.entry_id, e.link, e.published, e.categories, e.authors) for e in rss.entries] == [
        (e.entry_id, e.link, e.published, e.categories, e.authors) for e in atom.entries
    ]
    talks = next(e for e in rss.entries if e.link.endswith("post-us-russia-talks.html"))
    assert talks.summary is not None and talks.summary.startswith("Russian Deputy Foreign Minister Sergei Ryabkov")
    assert "<p>" not in talks.summary
    assert talks.content is None


def test_entry_without_guid_uses_link_and_relative_links_resolve() -> None:
    body = (FIXTURES / "relative_links.xml").read_bytes()
    feed = parse_feed(body, "http://news.example/feeds/rss.xml")
    rel = feed.entries[0]
    assert rel.link == "http://news.example/articles/rel-1.html"
    assert rel.entry_id == rel.link
    no_link = next(e for e in feed.entries if e.title == "No link")
    assert no_link.entry_id == "nolink-1" and no_link.link is None


def test_undefined_entity_is_bozo_but_usable() -> None:
    feed = parse_feed((FIXTURES / "undefined_entity.xml").read_bytes(), "http://x.example/f")
    assert feed.bozo
    assert feed.bozo_reason is not None and "line 3" in feed.bozo_reason and "undefined entity" in feed.bozo_reason
    assert [e.link for e in feed.entries] == ["http://news.invalid/d1?a=1&b=2"]


def test_wrong_encoding_declared_is_decoded_and_flagged() -> None:
    feed = parse_feed((FIXTURES / "bad_encoding_declared.xml").read_bytes(), "http://x.example/f")
    assert feed.bozo and "encoding" in (feed.bozo_reason or "")
    assert feed.title == "Café news"
    assert feed.entries[0].title == "Résumé"


def test_charset_from_content_type() -> None:
    body = '<?xml version="1.0"?><rss version="2.0"><channel><title>Köln</title></channel></rss>'.encode("cp1252")
    feed = parse_feed(body, "http://x.example/f", "application/rss+xml; charset=windows-1252")
    assert feed.title == "Köln"
    assert not feed.bozo


def test_mislabelled_content_type_is_not_bozo() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    assert not parse_feed(body, "http://x.example/f", "text/plain").bozo
    assert not parse_feed(body, "http://x.example/f", None).bozo


def test_truncated_feed_keeps_what_it_has() -> None:
    feed = parse_feed((FIXTURES / "truncated_atom.xml").read_bytes(), "http://x.example/f")
    assert feed.bozo and feed.title == "Cut"
    assert feed.entries[0].link == "http://news.invalid/e1"


def test_control_characters_removed_from_titles() -> None:
    feed = parse_feed((FIXTURES / "nul_bytes_in_feed.xml").read_bytes(), "http://x.example/f")
    assert feed.title == "NUL inside"


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("empty.xml", "empty", "empty body"),
        ("whitespace_only.xml", "empty", "empty body"),
        ("html_page.xml", "not_a_feed", "HTML page"),
        ("garbage.xml", "not_a_feed", "XML parse error at line"),
        ("json_feed.xml", "not_a_feed", "not a feed"),
    ],
)
def test_unusable_bodies_raise_clear_errors(name: str, kind: str, words: str) -> None:
    with pytest.raises(FeedError) as err:
        parse_feed((FIXTURES / name).read_bytes(), "http://x.example/f")
    assert err.value.kind == kind
    assert words in str(err.value)


def test_well_formed_xml_that_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match=r"XML root <catalog> is not RSS, Atom or RDF"):
        parse_feed(b'<?xml version="1.0"?>\n<catalog><book/></catalog>', "http://x.example/f", "application/xml")


def test_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    # feedparser opens a bytes/str argument as a path when it can; parse_feed must never do that.
    secret = tmp_path / "feed.xml"
    secret.write_bytes(b'<rss version="2.0"><channel><title>local file</title></channel></rss>')
    with pytest.raises(FeedError):
        parse_feed(str(secret).encode(), "http://x.example/f")


def test_valid_empty_feed_is_ok() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel></channel></rss>', "http://x.example/f", "application/rss+xml")
    assert feed.entries == [] and not feed.bozo and feed.version == "rss20"


def _bomb(kind: str) -> bytes:
    if kind == "laughs":  # billion laughs: 10 levels of 10 references
        decls = '<!ENTITY lol0 "lol">' + "".join(
            f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
        )
        use = "&lol9;"
    else:  # quadratic blow-up: one 50 kB entity referenced 5,000 times (250 MB expanded)
        decls = f'<!ENTITY a "{"x" * 50_000}">'
        use = "&a;" * 5000
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{decls}]><rss version="2.0"><channel><title>t</title>'
        f"<item><title>one</title><link>http://x.example/1</link><description>{use}</description></item>"
        "</channel></rss>"
    ).encode()


@pytest.mark.parametrize("kind", ["laughs", "quadratic"])
def test_entity_expansion_is_refused_before_any_parser_expands(kind: str) -> None:
    import time
    import tracemalloc

    body = _bomb(kind)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FeedError) as err:
            parse_feed(body, "http://x.example/f")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.kind == "entity_expansion" and "DTD" in str(err.value)
    assert peak < 5 * len(body) + 2_000_000 and time.perf_counter() - started < 2


def test_entity_declarations_in_utf16_are_seen_too() -> None:
    body = _bomb("laughs").decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    with pytest.raises(FeedError) as err:
        parse_feed(body.encode("utf-16"), "http://x.example/f")
    assert err.value.kind == "entity_expansion"


def test_a_doctype_without_entities_still_parses() -> None:
    """RSS 0.91's public DTD, and a subset that only declares attributes, are harmless."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>t</title>'
        b"<item><title>one</title><link>http://x.example/1</link></item></channel></rss>"
    )
    assert [e.link for e in parse_feed(body, "http://x.example/f").entries] == ["http://x.example/1"]
    subset = body.replace(b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">', b'"x.dtd" [<!ATTLIST item id CDATA #IMPLIED>]>')
    assert [e.link for e in parse_feed(subset, "http://x.example/f").entries] == ["http://x.example/1"]


def test_plain_text_entities_are_expanded_here_and_the_subset_dropped() -> None:
    """What feedparser's own well-formed corpus does: a few plain entities, bounded growth."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY id "tag:example.com,"> <!ENTITY me \'Ann\'>]>'
        b"<rss version=\"2.0\"><channel><title>&me;'s feed</title><item><guid isPermaLink='false'>&id;2006:/blog/</guid>"
        b"<link>http://x.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(body, "http://x.example/f")
    assert feed.title == "Ann's feed" and [e.entry_id for e in feed.entries] == ["tag:example.com,2006:/blog/"]
    assert not feed.bozo


def test_external_entities_are_dropped_never_fetched() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY ext SYSTEM "file:///etc/passwd">'
            b'<!ENTITY % lat1 PUBLIC "-//W3C//ENTITIES Latin 1 for XHTML//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent">'
            b']><rss version="2.0"><channel><title>t &ext; u</title>'
            b"<item><title>one</title><link>http://x.example/1</link></item></channel></rss>")
    feed = parse_feed(body, "http://x.example/f")
    assert [e.link for e in feed.entries] == ["http://x.example/1"] and "root:" not in (feed.title or "")


@pytest.mark.parametrize("decl", ['<!ENTITY % p "x">', '<!ENTITY a "x&amp;y">', '<!ENTITY b "<i>x</i>">'])
def test_parameter_nested_and_markup_entities_are_refused(decl: str) -> None:
    body = f'<?xml version="1.0"?><!DOCTYPE rss [{decl}]><rss version="2.0"><channel><title>t</title></channel></rss>'
    with pytest.raises(FeedError) as err:
        parse_feed(body.encode(), "http://x.example/f")
    assert err.value.kind == "entity_expansion"


def test_a_monstrous_id_is_kept_as_its_hash() -> None:
    link = "http://x.example/" + "a" * (4 << 20)
    body = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><link>{link}</link></item>"
            f"<item><guid>{'g' * 10_000}</guid><link>http://x.example/b</link></item></channel></rss>").encode()
    first, second = parse_feed(body, "http://x.example/f").entries
    assert first.link == link  # the link itself is the poller's to refuse (bad_url)
    assert first.entry_id.startswith("sha1:") and len(first.entry_id) == 45
    assert second.entry_id.startswith("sha1:") and second.entry_id != first.entry_id
    assert parse_feed(body, "http://x.example/f").entries[0].entry_id == first.entry_id
