"""OPML import/export, including hostile documents."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newsflow.ingest.opml import OpmlError, OpmlFeed, write_opml, read_opml
from newsflow.ingest.config import FeedConfig

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>subscriptions</title></head>
  <body>
    <outline text="News">
      <outline text="World" title="World news">
        <outline type="rss" text="Example News" xmlUrl="https://example-news.blogspot.com/feeds/posts/default" htmlUrl="https://example-news.blogspot.com/"/>
      </outline>
      <outline type="rss" text="Text only" xmlurl="http://b.example/rss.xml"/>
    </outline>
    <outline type="rss" title="Top level" text="ignored" xmlUrl="http://c.example/atom"/>
    <outline type="rss" text="Duplicate" xmlUrl="http://c.example/atom"/>
    <outline type="rss" text="Not http" xmlUrl="file:///etc/passwd"/>
    <outline text="Empty folder"/>
  </body>
</opml>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<opml version="2.0"><body><outline text="&g;" xmlUrl="http://a.example/feed"/></body></opml>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<opml version="2.0"><body><outline text="&xxe;" xmlUrl="http://a.example/feed"/></body></opml>"""

HARMLESS_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY name "Example">]>
<opml version="2.0"><body><outline text="&name;" xmlUrl="http://a.example/feed"/></body></opml>"""


def test_nested_outlines() -> None:
    result = read_opml(NESTED)
    assert result.feeds == [
        OpmlFeed("https://example-news.blogspot.com/feeds/posts/default", "Example News",
                 "https://example-news.blogspot.com/", ("News", "World news")),
        OpmlFeed("http://b.example/rss.xml", "Text only", None, ("News",)),
        OpmlFeed("http://c.example/atom", "Top level", None, ()),
    ]
    assert any("duplicate" in w for w in result.warnings)
    assert any("file:///etc/passwd" in w for w in result.warnings)
    assert [f.url for f in result] == [f.url for f in result.feeds] and len(result) == 3


@pytest.mark.parametrize("doc", [BOMB, XXE, HARMLESS_DTD], ids=["billion-laughs", "xxe", "any-dtd"])
def test_hostile_opml_refused(doc: bytes) -> None:
    with pytest.raises(OpmlError, match="refused"):
        read_opml(doc)


@pytest.mark.parametrize(
    ("doc", "words"),
    [(b"", "empty"), (b"\x00\x01 not xml", "not valid XML"), (b"<rss><channel/></rss>", "root element"),
     (b"<opml version='2.0'><head/></opml>", "no <body>")],
)
def test_bad_documents(doc: bytes, words: str) -> None:
    with pytest.raises(OpmlError, match=words):
        read_opml(doc)


def test_bare_ampersand_recovered_with_warning() -> None:
    doc = b'<opml version="1.0"><body><outline text="A & B" xmlUrl="http://a.example/feed?x=1&y=2"/></body></opml>'
    result = read_opml(doc)
    assert [f.url for f in result.feeds] == ["http://a.example/feed?x=1&y=2"]
    assert result.warnings and "recovered" in result.warnings[0]


def test_export_round_trip() -> None:
    feeds = [FeedConfig(url="http://a.example/feed", name="A & B <news>"), FeedConfig(url="https://b.example/rss")]
    doc = write_opml(feeds, now=datetime(2024, 5, 1, tzinfo=timezone.utc))
    assert doc.startswith(b"<?xml") and b"Wed, 01 May 2024 00:00:00 GMT" in doc
    back = read_opml(doc)
    assert [(f.url, f.title) for f in back.feeds] == [
        ("http://a.example/feed", "A & B <news>"), ("https://b.example/rss", "https://b.example/rss"),
    ]
    assert back.warnings == []
    assert read_opml(write_opml(["http://c.example/x"])).feeds[0].url == "http://c.example/x"
