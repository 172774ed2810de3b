"""extract_article over the seed site, its theme variants and bad input."""

from __future__ import annotations

import gzip
import random
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.ingest.extract.article import extract, extract_article
from newsflow.ingest.extract.decoding import decode_html, read_page
from newsflow.ingest.extract.errors import ExtractionError
from newsflow.ingest.extract.options import ExtractOptions
from newsflow.ingest.feedparse import FeedEntry, parse_feed
from newsflow.core.record import article_id
from newsflow.ingest.config import ExtractConfig

SITE = Path(__file__).resolve().parent.parent / "seeds" / "site"
BASE = "https://example-news.blogspot.com/"
SEED_URL = BASE + "post-us-russia-talks.html"
# Chrome that is on every seed page (seeds/site/README.md) and in no expected text.
CHROME = ("Post a Comment", "Previous Post", "Next Post", "Related Posts", "Share:", "Tags:", "Copyright",
          "Popular Posts", "Powered by", "Anna Berg covers")

PAGES = sorted(SITE.glob("*.html")) + sorted((SITE / "variants").glob("*.html"))


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def expected_for(page: Path) -> str:
    return (SITE / "expected" / f"{page.name.split('.')[0]}.txt").read_text(encoding="utf-8")


def url_for(page: Path) -> str:
    return BASE + page.name.split(".")[0] + ".html"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_seed_pages_give_the_expected_text(page: Path) -> None:
    article = extract_article(page.read_bytes(), url_for(page))
    assert norm(article.text) == norm(expected_for(page))
    assert article.title and article.title not in article.text
    for chrome in CHROME:
        assert chrome not in article.text


@pytest.mark.parametrize("page", sorted(SITE.glob("*.html")), ids=lambda p: p.name)
def test_paragraphs_are_separated_by_a_blank_line(page: Path) -> None:
    assert extract_article(page.read_bytes(), url_for(page)).text == expected_for(page).strip()


def test_the_filter_is_what_removes_the_chrome_of_sloppy_themes() -> None:
    page = SITE / "variants" / "post-us-russia-talks.sloppy-p-chrome.html"
    raw = extract(page.read_bytes(), SEED_URL, settings=ExtractConfig(boilerplate_filter=False))
    assert raw.article.text.endswith("Post a Comment\n\nPrevious Post Next Post")
    cleaned = extract(page.read_bytes(), SEED_URL)
    assert [(r.line, r.category) for r in cleaned.removed] == [
        ("Previous Post Next Post", "pager"), ("Post a Comment", "comments"),
    ]


def test_seed_metadata() -> None:
    article = extract_article((SITE / "post-us-russia-talks.html").read_bytes(), SEED_URL)
    assert article.url == SEED_URL
    assert article.id == article_id(SEED_URL)
    assert article.title == "Ongoing US-Russia Talks: “Complicated.”"
    assert article.published_at == datetime(2022, 1, 10, 14, 32, tzinfo=timezone(timedelta(hours=1)))
    assert article.published_at.utcoffset() == timedelta(hours=1)
    assert article.published_at.date() == date(2022, 1, 10)
    assert article.updated_at == datetime(2022, 1, 10, 15, 5, 48, tzinfo=timezone(timedelta(hours=1)))
    assert article.authors == ["Anna Berg"]
    assert article.site == "Example News"
    assert article.source == "example-news.blogspot.com"
    assert article.language_hint == "en"
    assert article.summary and article.summary.startswith("Russian Deputy Foreign Minister")
    assert article.categories == [] and article.feeds == []
    assert article.provenance["title"] == article.provenance["published_at"] == "page"


@pytest.mark.parametrize("feed_file", ["feeds/posts/default.xml", "rss.xml"])
def test_feed_entry_fills_labels_and_feeds(feed_file: str) -> None:
    feed_url = BASE + feed_file
    entries = {e.link: e for e in parse_feed((SITE / feed_file).read_bytes(), feed_url).entries}
    entry = entries[SEED_URL]
    article = extract_article((SITE / "post-us-russia-talks.html").read_bytes(), SEED_URL, entry, feed_url)
    assert article.categories == ["NATO", "Russia", "Ukraine", "USA", "World"]
    assert article.provenance["categories"] == "feed"
    assert article.feeds == [feed_url]
    assert article.original_url == SEED_URL
    # the page's timestamp and the feed's are the same instant; the page's keeps its offset
    assert article.published_at == entry.published
    assert article.published_at.utcoffset() == timedelta(hours=1)


BARE_PAGE = """<!DOCTYPE html><html><head>{head}</head><body><article>
<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>
</article></body></html>"""


def entry(**fields) -> FeedEntry:
    defaults = dict(entry_id="tag:x,2022:1", link="https://news.example.org/2022/01/budget.html")
    return FeedEntry(**{**defaults, **fields})


def test_feed_fills_what_the_page_lacks() -> None:
    published = datetime(2022, 1, 11, 17, 0, tzinfo=timezone.utc)
    e = entry(title="Council approves budget", authors=("Jonas Ek",), published=published,
              categories=("Politics", "Politics", "City"), summary="The budget passed.", language="sv-SE")
    article = extract_article(BARE_PAGE.format(head="").encode(), e.link, e, "https://news.example.org/feed")
    assert article.title == "Council approves budget"
    assert article.authors == ["Jonas Ek"]
    assert article.published_at == published
    assert article.categories == ["Politics", "City"]
    assert article.language_hint == "sv"
    for field in ("title", "authors", "published_at", "categories", "language_hint"):
        assert article.provenance[field] == "feed", field


def test_page_date_far_from_the_feed_date_loses() -> None:
    head = '<meta property="article:published_time" content="2015-01-01T00:00:00+00:00">'
    published = datetime(2022, 1, 11, 17, 0, tzinfo=timezone.utc)
    e = entry(published=published)
    result = extract(BARE_PAGE.format(head=head).encode(), e.link, e)
    assert result.article.published_at == published
    assert result.article.provenance["published_at"] == "feed"
    assert any("far from the feed" in note for note in result.notes)


def test_page_date_close_to_the_feed_date_wins() -> None:
    head = '<meta property="article:published_time" content="2022-01-11T18:30:00+01:00">'
    e = entry(published=datetime(2022, 1, 11, 17, 0, tzinfo=timezone.utc))
    article = extract_article(BARE_PAGE.format(head=head).encode(), e.link, e)
    assert article.published_at == datetime(2022, 1, 11, 18, 30, tzinfo=timezone(timedelta(hours=1)))
    assert article.provenance["published_at"] == "page"


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [
        ("https://news.example.org/2022/01/budget.html?utm_source=rss", "https://news.example.org/2022/01/budget.html"),
        ("/2022/01/budget-final.html", "https://news.example.org/2022/01/budget-final.html"),
        ("https://other-site.example.com/budget.html", "https://news.example.org/2022/01/budget.html?id=7"),
        ("https://news.example.org/", "https://news.example.org/2022/01/budget.html?id=7"),
    ],
    ids=["same-site", "relative", "other-site", "home-page"],
)
def test_canonical_url(canonical: str, expected: str) -> None:
    page = BARE_PAGE.format(head=f'<link rel="canonical" href="{canonical}">').encode()
    article = extract_article(page, "https://news.example.org/2022/01/budget.html?id=7")
    assert article.url == expected
    assert article.id == article_id(expected)
    assert article.source == "news.example.org"


def test_seed_served_from_another_host_keeps_the_fetched_url() -> None:
    url = "http://127.0.0.1:8123/post-us-russia-talks.html"
    article = extract_article((SITE / "post-us-russia-talks.html").read_bytes(), url)
    assert article.url == url and article.source == "127.0.0.1"


def test_gzipped_page(tmp_path: Path) -> None:
    raw = (SITE / "post-us-russia-talks.html").read_bytes()
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(raw))
    assert read_page(gz) == raw
    assert extract_article(gz.read_bytes(), SEED_URL).text == extract_article(raw, SEED_URL).text


def test_corrupt_gzip_is_an_error() -> None:
    with pytest.raises(ExtractionError) as err:
        extract_article(b"\x1f\x8b\x08\x00garbage", SEED_URL)
    assert err.value.kind == "not_html"


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n" + bytes(500), b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", random.Random(7).randbytes(20_000),
     b'{"items": [1, 2, 3]}', b"just a line of plain text, no markup at all " * 20],
    ids=["png", "pdf", "random", "json", "plain-text"],
)
def test_not_html(body: bytes) -> None:
    with pytest.raises(ExtractionError) as err:
        extract_article(body, SEED_URL)
    assert err.value.kind == "not_html"
    assert SEED_URL in str(err.value)


@pytest.mark.parametrize(
    "body",
    [b"", b"  \n", b"<html><head><title>Empty</title></head><body></body></html>",
     b"<html><body><nav><a href='/'>Home</a></nav><p>Too short.</p></body></html>"],
    ids=["empty", "blank", "empty-body", "too-short"],
)
def test_no_text(body: bytes) -> None:
    with pytest.raises(ExtractionError) as err:
        extract_article(body, SEED_URL)
    assert err.value.kind == "no_text"


def test_min_text_chars_is_honoured() -> None:
    page = BARE_PAGE.format(head="").encode()
    assert extract_article(page, "https://news.example.org/a.html").text
    with pytest.raises(ExtractionError):
        extract_article(page, "https://news.example.org/a.html", settings=ExtractConfig(min_text_chars=10_000))


WESTERN = BARE_PAGE.replace("budget", "Büdget naïve façade «ça» — “€5”")


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ('<meta charset="utf-8">', "cp1252"),  # declared utf-8, written in cp1252
        ("", "latin-1"),  # no declaration at all
        ('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">', "cp1252"),
    ],
    ids=["cp1252-declared-utf8", "latin1-undeclared", "cp1252-declared-latin1"],
)
def test_wrong_or_missing_charset(head: str, encoding: str) -> None:
    html = WESTERN.format(head=head)
    if encoding == "latin-1":
        html = html.replace("€", "E").replace("“", '"').replace("”", '"').replace("—", "-")
    text = extract_article(html.encode(encoding), "https://news.example.org/a.html").text
    assert "Büdget naïve façade «ça»" in text
    assert "\ufffd" not in text


def test_valid_utf8_beats_a_wrong_latin1_label() -> None:
    html = WESTERN.format(head='<meta charset="iso-8859-1">')
    assert "Büdget naïve façade «ça» — “€5”" in extract_article(html.encode("utf-8"), "https://news.example.org/a.html").text


def test_http_charset_header_is_used() -> None:
    html = "<html><body><p>" + "Переговоры в Женеве были сложными, заявил заместитель министра. " * 4 + "</p><p>ok</p></body></html>"
    assert "Переговоры в Женеве" in decode_html(html.encode("koi8-r"), "text/html; charset=KOI8-R")


def test_huge_page_does_not_blow_up() -> None:
    seed = (SITE / "post-us-russia-talks.html").read_text(encoding="utf-8")
    filler = "".join(
        f"<p>Paragraph {i}: the committee discussed the budget at length and agreed to meet again in Brussels.</p>\n"
        for i in range(30_000)
    )
    page = seed.replace('<a name="more"></a>', '<a name="more"></a>' + filler).encode()
    assert len(page) > 3_000_000
    article = extract_article(page, SEED_URL)
    assert "Paragraph 29999:" in article.text
    assert article.text.endswith("with all parliamentary party leaders.")


def test_page_with_too_much_markup_is_refused_unparsed() -> None:
    # 4 MB of bare table cells: parsed and extracted, 25 s and 630 MB of one worker.
    page = b"<html><body><table>" + b"<tr><td>cell text a</td><td>cell b</td></tr>" * 90_000 + b"</table></body></html>"
    with pytest.raises(ExtractionError) as err:
        extract_article(page, SEED_URL)
    assert err.value.kind == "too_large"
    assert "540006 tags" in str(err.value)


def test_platform_name_is_not_the_site_name() -> None:
    # Without og:site_name trafilatura takes the JSON-LD publisher, "Blogger" on stock themes:
    # the site is the blog's host then, derived.
    seed = (SITE / "post-us-russia-talks.html").read_text(encoding="utf-8")
    page = seed.replace('<meta content="Example News" property="og:site_name">', "")
    assert page != seed
    article = extract_article(page.encode(), SEED_URL)
    assert article.site == "example-news.blogspot.com"
    assert article.provenance["site"] == "derived"


def test_title_repeated_at_the_top_of_the_body_is_dropped() -> None:
    page = BARE_PAGE.format(head="<title>Council approves budget</title>").replace(
        "<article>", "<article><h2>Council approves budget</h2>"
    )
    result = extract(page.encode(), "https://news.example.org/a.html")
    assert result.article.title == "Council approves budget"
    assert result.article.text.startswith("The city council approved")
    assert ("Council approves budget", "title") in [(r.line, r.category) for r in result.removed]


def test_utf8_page_with_a_stray_legacy_byte_stays_utf8() -> None:
    # A pasted snippet in cp1252 must not turn the whole UTF-8 page into mojibake.
    html = WESTERN.format(head='<meta charset="utf-8">').replace("</article>", "<p>caf\udce9</p></article>")
    data = html.encode("utf-8", errors="surrogateescape")
    text = extract_article(data, "https://news.example.org/a.html").text
    assert "Büdget naïve façade «ça» — “€5”" in text


@pytest.mark.parametrize(
    "chrome",
    [
        "<p>Keine Kommentare:</p><p>Kommentar veröffentlichen</p><p>Neuerer Post Älterer Post Startseite</p>"
        "<p>Abonnieren Kommentare zum Post (Atom)</p>",
        "<p>Share this:</p><p>Twitter</p><p>Facebook</p><p>Like this:</p><p>Like Loading...</p><h3>Related</h3>"
        "<p>Leave a Reply Cancel reply</p>",
        "<p>Tags: NATO, Russia, Ukraine</p><p>Read more:</p><p>Advertisement</p>"
        "<p>© 2022 Example News. All rights reserved.</p>",
        "<p>Partager :</p><p>Publier un commentaire</p><p>Article plus récent Article plus ancien Accueil</p>",
    ],
    ids=["blogger-de", "wordpress", "news-footer", "blogger-fr"],
)
def test_other_themes_chrome_in_the_body(chrome: str) -> None:
    # Other chrome, placed where the sloppy theme puts it: trafilatura keeps it, the filter does not.
    variant = (SITE / "variants" / "post-us-russia-talks.sloppy-p-chrome.html").read_text(encoding="utf-8")
    page = variant.replace("<p>Post a Comment</p>", chrome).replace("<p>Previous Post Next Post</p>", "").encode()
    raw = extract_article(page, SEED_URL, settings=ExtractConfig(boilerplate_filter=False)).text
    assert not raw.endswith("party leaders.")
    assert norm(extract_article(page, SEED_URL).text) == norm(expected_for(SITE / "post-us-russia-talks.html"))


def test_date_only_page_takes_the_feed_timestamp_of_that_day() -> None:
    page = BARE_PAGE.format(head='<meta name="date" content="2022-01-11">').encode()
    e = entry(published=datetime(2022, 1, 11, 17, 0, tzinfo=timezone.utc))
    with_feed = extract_article(page, e.link, e)
    assert with_feed.published_at == e.published and with_feed.provenance["published_at"] == "feed"
    alone = extract_article(page, e.link)
    assert alone.published_at == datetime(2022, 1, 11, tzinfo=timezone.utc)
    assert alone.provenance["published_at"] == "page"


def test_headline_matching_the_pages_h1_or_title_prefix_is_dropped() -> None:
    # og:title is another string than the h1, which the <title> carries with a " - Site"
    # suffix: the h1 is the title, and the body's first line, repeating it, goes.
    head = ('<title>Council approves budget after long debate - Example News</title>'
            '<meta property="og:title" content="Budget passes">')
    page = BARE_PAGE.format(head=head).replace("<article>", "<article><h1>Council approves budget after long debate</h1>")
    result = extract(page.encode(), "https://news.example.org/a.html")
    assert result.article.title == "Council approves budget after long debate"
    assert result.article.text.startswith("The city council approved")
    # Without an h1 the title stays og:title's; the <title> prefix still marks the first line.
    page = BARE_PAGE.format(head=head).replace("<article>", "<article><h2>Council approves budget after long debate</h2>")
    result = extract(page.encode(), "https://news.example.org/a.html")
    assert result.article.title == "Budget passes"
    assert result.article.text.startswith("The city council approved")
    kept = extract(page.encode(), "https://news.example.org/a.html", options=ExtractOptions(page_headlines=False))
    assert kept.article.text.startswith("Council approves budget after long debate")


def test_a_first_sentence_that_only_starts_like_the_title_stays() -> None:
    page = BARE_PAGE.format(head="<title>The city council</title>")
    result = extract(page.encode(), "https://news.example.org/a.html")
    assert result.article.text.startswith("The city council approved the new budget")


def test_readabilitys_reading_from_trafilaturas_own_run_checks_the_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    # trafilatura computes readability's answer as its safety net; extract keeps it (no second
    # run) and hands it to the tail check (tests/test_trafilatura_adapter.py: the recorder).
    import newsflow.ingest.extract.article as article

    seen: list[str] = []
    real = article.unconfirmed_tail

    def spy(text: str, other: str):
        seen.append(other)
        return real(text, other)

    monkeypatch.setattr(article, "unconfirmed_tail", spy)
    page = BARE_PAGE.format(head="").encode()
    extract(page, "https://news.example.org/a.html")
    assert len(seen) == 1 and "city council approved the new budget" in seen[0]
    extract(page, "https://news.example.org/a.html", options=ExtractOptions(tail_check=False))
    assert len(seen) == 1


LEAD = "Der Stadtrat hat am Dienstag nach sechs Stunden Debatte den Haushalt beschlossen. Die Opposition spricht von geschönten Zahlen."
LEAD_PAGE = """<!DOCTYPE html><html lang="{lang}"><head><title>Stadtrat beschließt Haushalt</title>
<meta name="description" content="{desc}"></head><body>
<header class="article-header"><h1>Stadtrat beschließt Haushalt</h1><div class="teaser"><p>{lead}</p></div></header>
<article>
<p>Die Sitzung begann am Vormittag und endete erst am späten Abend, nachdem alle Fraktionen gesprochen hatten.</p>
<p>Der Kämmerer verteidigte die Steuerschätzungen und verwies auf die Entwicklung der vergangenen drei Jahre.</p>
<p>Schulen und Nahverkehr sollen im kommenden Jahr mehr Geld erhalten, die Gebühren bleiben unverändert.</p>
</article></body></html>"""
LEAD_URL = "https://news.example.de/2022/haushalt.html"


def test_the_lead_trafilatura_skips_is_put_back_as_the_first_paragraph() -> None:
    page = LEAD_PAGE.format(lang="de", desc=LEAD, lead=f"<b>Berlin.</b> {LEAD}").encode()
    skipped = extract(page, LEAD_URL, options=ExtractOptions(lead=False)).article.text
    assert LEAD not in skipped  # trafilatura reads the <article> only
    text = extract(page, LEAD_URL).article.text
    assert text == f"Berlin. {LEAD}\n\n{skipped}"


def test_an_english_dek_stays_out_of_the_text() -> None:
    # English news treat the lead as the headline's subtitle; it is the article's summary.
    article = extract_article(LEAD_PAGE.format(lang="en", desc=LEAD, lead=LEAD).encode(), LEAD_URL)
    assert LEAD not in article.text and article.summary == LEAD


@pytest.mark.parametrize(
    "desc, lead",
    [
        (LEAD, "Ein ganz anderer Vorspann."),  # a description written for search engines only
        ("Stadtrat beschließt Haushalt", "Stadtrat beschließt Haushalt"),  # too short to be a lead
    ],
    ids=["not-shown", "tagline"],
)
def test_no_lead_is_made_up(desc: str, lead: str) -> None:
    page = LEAD_PAGE.format(lang="de", desc=desc, lead=lead).encode()
    assert extract_article(page, LEAD_URL).text.startswith("Die Sitzung begann am Vormittag")


def test_a_description_the_text_has_already_is_not_added_twice() -> None:
    desc = "Die Sitzung begann am Vormittag und endete erst am späten Abend, nachdem alle Fraktionen gesprochen hatten."
    page = LEAD_PAGE.format(lang="de", desc=desc, lead=LEAD).encode()
    text = extract_article(page, LEAD_URL).text
    assert text.startswith("Die Sitzung begann") and text.count("Die Sitzung begann") == 1


ROLE_PAGE = """<!DOCTYPE html><html><head><title>Budget</title></head><body>
<article class="post category-newsletter tag-disclaimer">
<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<div class="affiliate-disclaimer"><p>We may earn a commission when you buy through the links on this page.</p></div>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>
</article></body></html>"""


def test_a_block_from_an_element_named_for_a_non_article_role_goes() -> None:
    # The disclaimer's own class tells it; the post's taxonomy classes ("category-newsletter")
    # are no role, so the article stays.
    # (the affiliate line is an inner prompt line too: switched off here, to see the role box alone)
    kept = extract(ROLE_PAGE.encode(), "https://news.example.org/a.html", options=ExtractOptions(role_boxes=False, inner_lines=False))
    assert "We may earn a commission" in kept.article.text  # trafilatura keeps it
    assert "We may earn a commission" not in extract(ROLE_PAGE.encode(), "https://news.example.org/a.html").article.text
    result = extract(ROLE_PAGE.encode(), "https://news.example.org/a.html", options=ExtractOptions(inner_lines=False))
    assert "We may earn a commission" not in result.article.text
    assert "optimistic forecasts for tax revenue" in result.article.text
    assert result.article.text.endswith("keeping fees unchanged.")
    assert [r.category for r in result.removed] == ["box"]


def test_image_credits_and_datelines_go_from_the_text() -> None:
    page = BARE_PAGE.replace("<article>", "<article><p>23.10.2018</p>").replace(
        "</article>", "<p>Foto: Max Mustermann / dpa</p></article>").encode()
    text = extract(page, "https://news.example.org/a.html").article.text
    assert text.startswith("The city council approved") and text.endswith("keeping fees unchanged.")
    kept = extract(page, "https://news.example.org/a.html", options=ExtractOptions(credits=False)).article.text
    assert "Foto: Max Mustermann" in kept


FORM_PAGE = """<!DOCTYPE html><html><head><title>Budget passes</title></head><body>
<form id="aspnetForm"><article>
<h1>Budget passes</h1>
<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<div class="box-7"><h3>Unser Morgenbriefing, jeden Tag</h3><label>Adresse</label><input type="email" name="em">
<p>Abmeldung jederzeit möglich, Hinweise zum Datenschutz hier.</p></div>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<div class="x"><h3>Ihre Meinung zum Thema</h3><p>Pseudonym und Ort angeben</p><textarea></textarea></div>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>
<div class="mail-share"><p>Budget passes</p><p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<input type="email" name="to"></div>
</article></form></body></html>"""


def test_the_boxes_around_email_fields_and_text_areas_go_in_any_wording() -> None:
    # Words no vocabulary lists: the form box tells them (structure, not vocabulary). The page is
    # wrapped whole in a <form> (ASP.NET), which is no box; a "share by email" form that quotes the
    # headline previews the article, and the article's line stays.
    url = "https://news.example.org/budget.html"
    off = extract(FORM_PAGE.encode(), url, options=ExtractOptions(form_boxes=False)).article.text
    assert "Abmeldung jederzeit" in off and "Pseudonym und Ort" in off  # trafilatura keeps them
    result = extract(FORM_PAGE.encode(), url)
    text = result.article.text
    for chrome in ("Morgenbriefing", "Abmeldung jederzeit", "Ihre Meinung zum Thema", "Pseudonym und Ort"):
        assert chrome not in text
    assert text.startswith("The city council approved the new budget on Tuesday")
    assert "optimistic forecasts" in text and "keeping fees unchanged." in text
    assert {r.category for r in result.removed} >= {"form"}
