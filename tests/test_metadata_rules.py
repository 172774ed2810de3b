"""The article's fields beside its text, on small pages: the title is the headline shown, the
byline holds people only, the date keeps the page's time zone, the site falls back to the
host's brand (ingest/extract/metadata.py, headline.py, structured.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from newsflow.ingest.extract.article import extract_article
from newsflow.ingest.extract.metadata import host_brand

URL = "https://news.example.org/2024/05/budget.html"
BODY = """<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>"""


def page(head: str = "", before: str = "", url_body: str = BODY) -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{before}<article>{url_body}</article></body></html>".encode()


def ld(**fields: object) -> str:
    return f'<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", **fields})}</script>'


# --- title -----------------------------------------------------------------------------


@pytest.mark.parametrize("head", [
    '<meta property="og:title" content="Council approves budget | Example News">',
    '<meta property="og:title" content="Example News | Council approves budget">',
    "<title>Council approves budget - Example News</title>",
    '<meta property="og:title" content="Analysis: Council approves budget | Example Politics">',
], ids=["site-suffix", "site-prefix", "title-tag", "kicker-and-section"])
def test_title_is_the_h1_when_the_page_title_wraps_it(head: str) -> None:
    article = extract_article(page(head, "<h1>Council approves budget</h1>"), URL)
    assert article.title == "Council approves budget"


def test_title_is_the_h1_the_json_ld_headline_confirms_over_an_seo_title() -> None:
    head = ('<title>Budget: what it means for you | Example News</title>'
            '<meta property="og:title" content="Budget passes after six hours">'
            + ld(**{"@type": "NewsArticle", "headline": "Council approves the budget after a long debate"}))
    article = extract_article(page(head, "<h1>Council approves the budget after a long debate</h1>"), URL)
    assert article.title == "Council approves the budget after a long debate"


def test_site_name_leaves_the_title_when_there_is_no_h1() -> None:
    head = ('<meta property="og:site_name" content="Example News">'
            '<meta property="og:title" content="Council approves budget » Local » News » Example News">')
    assert extract_article(page(head), URL).title == "Council approves budget"


def test_a_title_without_the_site_name_is_kept_whole() -> None:
    # " - " inside a headline is no site separator when neither end names the site.
    head = ('<meta property="og:site_name" content="Example News">'
            '<meta property="og:title" content="Budget vote - what happens next">')
    assert extract_article(page(head), URL).title == "Budget vote - what happens next"


def test_a_short_h1_is_no_headline_of_a_longer_title() -> None:
    # A logo or section name in an h1 is a small part of the title: the title stays.
    head = '<meta property="og:title" content="Politics: Council approves budget after a long debate">'
    assert extract_article(page(head, "<h1>Politics</h1>"), URL).title == (
        "Politics: Council approves budget after a long debate")


# --- byline ----------------------------------------------------------------------------


def test_json_ld_people_beat_a_meta_author_that_is_the_publisher() -> None:
    head = ('<meta name="author" content="Big Media Group">'
            + ld(**{"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Tom Bennett"},
                                                        {"@type": "Organization", "name": "Example Wire"}]}))
    assert extract_article(page(head), URL).authors == ["Tom Bennett"]


def test_json_ld_author_by_reference_in_a_graph() -> None:
    graph = {"@graph": [{"@type": "Person", "@id": "#ann", "name": "Ann Lee"},
                        {"@type": "BlogPosting", "author": {"@id": "#ann"}, "headline": "Budget"}]}
    head = f'<script type="application/ld+json">{json.dumps(graph)}</script>'
    assert extract_article(page(head), URL).authors == ["Ann Lee"]


def test_a_byline_list_loses_the_sites_own_name_and_is_split() -> None:
    head = ('<meta property="og:site_name" content="CNN">'
            '<meta name="author" content="Dana A. Ford, James S.A. Corey, and Tom Watkins, CNN">')
    names = [re.sub(r"\W+", " ", a).strip() for a in extract_article(page(head), URL).authors]
    assert names == ["Dana A Ford", "James S A Corey", "Tom Watkins"]  # trafilatura drops the dots


@pytest.mark.parametrize("junk", ["Updated 5:32 PM", "on December 27, 2014", "National Desk", "Print", "Politics",
                                  "www.facebook.com/example"])
def test_dates_update_stamps_desks_ui_words_and_sections_are_no_authors(junk: str) -> None:
    head = ('<meta property="article:section" content="Politics">'
            f'<meta name="author" content="Ann Lee; {junk}">')
    assert extract_article(page(head), URL).authors == ["Ann Lee"]


def test_microdata_people_are_the_byline() -> None:
    byline = ('<p class="byline">By <span itemprop="author" itemscope itemtype="https://schema.org/Person">'
              '<span itemprop="name">KEVIN SACK</span></span> and <span itemprop="author" itemscope '
              'itemtype="https://schema.org/Person"><span itemprop="name">SHERI FINK</span></span></p>')
    # Inside the article, or anywhere on a page without one. Capitals as trafilatura sets them.
    assert extract_article(page(url_body=byline + BODY), URL).authors == ["Kevin Sack", "Sheri Fink"]
    bare = f"<html><head></head><body>{byline}<div>{BODY}</div></body></html>".encode()
    assert extract_article(bare, URL).authors == ["Kevin Sack", "Sheri Fink"]


def test_microdata_bylines_of_teaser_cards_are_not_the_articles() -> None:
    card = ('<article class="card"><a href="/other">Another story</a><span itemprop="author">By Poppie Platt'
            '</span></article>')
    assert extract_article(page(url_body=BODY) + card.encode(), URL).authors == []


def test_a_json_ld_login_gives_way_to_the_meta_tags_name() -> None:
    head = ('<meta name="author" content="Christian Stadtfeld">'
            + ld(**{"@type": "NewsArticle", "author": {"@type": "Person", "name": "christian.stadtfeld"}}))
    assert extract_article(page(head), URL).authors == ["Christian Stadtfeld"]


def test_a_site_that_signs_as_itself_keeps_its_byline() -> None:
    # The site's name beside people's is their affiliation; alone it is the byline.
    head = '<meta property="og:site_name" content="Die Tagespresse"><meta name="author" content="Die Tagespresse">'
    assert extract_article(page(head), URL).authors == ["Die Tagespresse"]


def test_clean_names_trafilatura_finds_are_kept() -> None:
    head = '<meta name="author" content="Lauren del Valle; Chien-Ming Wang">'
    assert extract_article(page(head), URL).authors == ["Lauren del Valle", "Chien-Ming Wang"]


# --- date ------------------------------------------------------------------------------


def test_json_ld_date_published_keeps_the_pages_time_zone() -> None:
    # ISO 8601's basic format, which htmldate does not read: 05:50 in Tokyo is the day before in UTC.
    head = ld(**{"@type": "NewsArticle", "datePublished": "20180619T055000+0900"})
    article = extract_article(page(head), URL)
    assert article.published_at == datetime(2018, 6, 19, 5, 50, tzinfo=timezone(timedelta(hours=9)))
    assert article.published_at.utcoffset() == timedelta(hours=9)
    assert article.provenance["published_at"] == "page"


def test_a_placeholder_date_published_is_not_the_date() -> None:
    head = (ld(**{"@type": "NewsArticle", "datePublished": "0001-01-01T00:00:00Z"})
            + '<meta property="article:published_time" content="2024-05-01T10:00:00-04:00">')
    article = extract_article(page(head), URL)
    assert article.published_at == datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=-4)))


# --- site ------------------------------------------------------------------------------


def test_site_falls_back_to_the_hosts_brand() -> None:
    article = extract_article(page(), URL)
    assert article.site == "example.org"
    assert article.provenance["site"] == "derived"
    named = extract_article(page('<meta property="og:site_name" content="Example News">'), URL)
    assert named.site == "Example News" and named.provenance["site"] == "page"


@pytest.mark.parametrize(("url", "brand"), [
    ("https://www.cnn.com/2023/11/06/politics/a.html", "cnn.com"),
    ("https://news.bbc.co.uk/a.html", "bbc.co.uk"),
    ("https://example-news.blogspot.com/a.html", "example-news.blogspot.com"),
    ("https://medium.com/@ann/a-post-123", "Medium"),
    ("https://ann.medium.com/a-post-123", "ann.medium.com"),
])
def test_host_brand(url: str, brand: str) -> None:
    assert host_brand(url) == brand


def test_medium_pages_name_medium_as_their_site() -> None:
    head = '<meta property="og:site_name" content="Medium">'
    assert extract_article(page(head), "https://medium.com/@ann/a-post-123").site == "Medium"
