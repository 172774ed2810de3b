"""canonical_url: one spelling per article url."""

from __future__ import annotations

import pytest

from newsflow.ingest.feedparse import parse_feed
from newsflow.core.record import article_id
from newsflow.ingest.urls import InvalidURL, canonical_url, host_of
from tests.support.feeds_http import SEED_SITE, page_canonical


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://Example-News.BlogSpot.com:443/post-2.html#comment-form", "https://example-news.blogspot.com/post-2.html"),
        ("https://example-news.blogspot.com/post-3.html?utm_source=feed&utm_medium=rss&fbclid=x",
         "https://example-news.blogspot.com/post-3.html"),
        ("http://a.example/x/../y/./z?b=2&a=1", "http://a.example/y/z?a=1&b=2"),
        ("http://a.example", "http://a.example/"),
        ("http://a.example:80/p", "http://a.example/p"),
        ("  http://a.example/p  ", "http://a.example/p"),
    ],
)
def test_normalises(link: str, expected: str) -> None:
    assert canonical_url(link) == expected


def test_keeps_scheme_and_meaningful_query() -> None:
    assert canonical_url("http://a.example/p?id=7") != canonical_url("https://a.example/p?id=7")
    assert canonical_url("http://a.example/p?id=7") == "http://a.example/p?id=7"


def test_relative_link_resolved_against_base() -> None:
    assert canonical_url("../post-2.html", base="http://127.0.0.1:8000/feeds/posts/default.xml") == (
        "http://127.0.0.1:8000/feeds/post-2.html"
    )


@pytest.mark.parametrize("bad", ["", "   ", "mailto:a@b.example", "ftp://a.example/f", "http:///nohost", "http://[::1/"])
def test_rejects_non_http(bad: str) -> None:
    with pytest.raises(InvalidURL):
        canonical_url(bad)


def test_host_of() -> None:
    assert host_of("http://A.example:8080/x") == "a.example:8080"
    assert host_of("https://a.example/x") == "a.example"


@pytest.mark.parametrize("feed", ["feeds/posts/default.xml", "rss.xml"])
def test_seed_feed_links_map_to_page_canonical(feed: str) -> None:
    parsed = parse_feed((SEED_SITE / feed).read_bytes(), "https://example-news.blogspot.com/" + feed)
    assert len(parsed.entries) == 3
    for entry in parsed.entries:
        page = SEED_SITE / entry.link.rsplit("/", 1)[1]
        canonical = page_canonical(page.read_bytes())
        assert canonical is not None
        assert canonical_url(entry.link) == canonical_url(canonical)
        # Links as a feed reader might see them (tracking, fragment) give the same id.
        assert article_id(canonical_url(entry.link + "?utm_source=rss#more")) == article_id(canonical_url(canonical))


def test_a_huge_link_is_refused_and_quoted_short() -> None:
    from newsflow.ingest.urls import MAX_URL_CHARS, InvalidURL

    link = "https://example.org/" + "a" * 4_000_000
    with pytest.raises(InvalidURL) as err:
        canonical_url(link)
    assert str(MAX_URL_CHARS) in str(err.value) and len(str(err.value)) < 400
    assert canonical_url("https://example.org/" + "a" * 1000).endswith("a" * 1000)
    with pytest.raises(InvalidURL) as bad:
        canonical_url("ftp://" + "b" * 5000)
    assert len(str(bad.value)) < 400
