"""The page served by newsflow.web over a real index (both backends), read as HTML: what it shows,
that facet and story links filter, and that article text with markup and script is never emitted
as markup: no script, no event-handler attribute, no link to anything but the page itself or an
http(s) URL, including inside attributes and URLs."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from newsflow.web.app import Sources, create_app

from .corpus import HOSTILE, HOSTILE_STORY


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, of one HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def links(self, css_class: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == "a" and (css_class is None or css_class in (a.get("class") or ""))]


FEEDS = [{"url": "https://feeds.example/rss", "name": '<script>window.__pwned="feed"</script>', "status": "failing",
          "last_success": None, "consecutive_failures": 3, "last_error_kind": "http",
          "last_error": '<img src=x onerror="window.__pwned=1">'}]  # fmt: skip


@pytest.fixture
def client(indexed):
    app = create_app(Sources(index=indexed.index, feeds=lambda: FEEDS, backend=indexed.backend, story_facts=indexed.stories.get))
    with TestClient(app) as c:
        yield c


def get(client, url: str, status: int = 200) -> tuple[str, Page]:
    resp = client.get(url)
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("text/html")
    assert "script-src" not in resp.headers["content-security-policy"]  # default-src 'none': no script at all
    return resp.text, Page(resp.text)


def assert_inert(html: str, page: Page) -> None:
    """No markup of the article made it through: nothing can run, every link goes somewhere safe."""
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "img", "svg", "iframe", "textarea", "b", "object", "embed"}, tags
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for key in ("href", "src", "action", "formaction"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value or value.startswith(("/", "http://", "https://")), (tag, attrs)
    assert "javascript:" not in " ".join(v or "" for _, a in page.tags for k, v in a.items() if k == "href")
    lowered = html.lower()
    for raw in ("<script", "<img", "<svg", "<iframe", "<b "):
        assert raw not in lowered, raw  # only escaped copies (&lt;script…)
    for field, value in HOSTILE.items():
        assert value not in html, field  # never verbatim: each has a character that must be escaped


def test_search_page_shows_hits_facets_histogram_stories_and_feeds(client):
    html, page = get(client, "/?q=riyadh")
    text = " ".join(page.text)
    assert 'id="total">3<' in html  # the three talks articles
    assert "US and Russia meet in Riyadh" in text and "What the Riyadh talks mean" in text
    sites = [a for a in page.links() if a.get("data-facet") == "site"]
    assert {parse_qs(urlsplit(a["href"]).query)["source"][0] for a in sites} >= {"Wire A", "Paper B", "Paper C"}
    assert len([a for t, a in page.tags if t == "a" and "title" in a and "articles" in (a["title"] or "")]) == 3  # days
    stories = page.links("story-link")
    assert stories[0]["href"] == "/story/s-talks"
    assert "feeds.example/rss" in text and "failing" in text
    assert "<mark>Riyadh</mark>" in html  # the index's highlight, as markup of ours


def test_facet_links_filter_and_keep_the_query(client):
    _, page = get(client, "/?q=riyadh")
    paper_b = next(a["href"] for a in page.links() if a.get("data-facet") == "site" and "Paper+B" in a["href"])
    assert parse_qs(urlsplit(paper_b).query) == {"q": ["riyadh"], "source": ["Paper B"]}
    html, filtered = get(client, paper_b)
    assert 'id="total">1<' in html and "Riyadh talks: US and Russia meet" in " ".join(filtered.text)
    lavrov = next(a["href"] for a in filtered.links() if a.get("data-facet") == "persons" and "Lavrov" in a["href"])
    assert parse_qs(urlsplit(lavrov).query)["entity"] == ["Sergei Lavrov"]


def test_story_page_lists_the_members_earliest_first(client):
    html, page = get(client, "/story/s-talks")
    assert 'id="story-size">3<' in html
    rows = [a["href"] for a in page.links() if (a.get("href") or "").startswith("https://")]
    assert rows == ["https://wire-a.example/1", "https://paper-b.example/2", "https://paper-c.example/3"]
    text = " ".join(page.text)
    assert "rewrite" in text
    # The story document: who had it first, and every outlet.
    words = " ".join(text.split())
    assert "by Wire A" in words and "3 outlets: Paper B, Paper C, Wire A" in words
    get(client, "/story/no-such-story", status=404)


def test_article_markup_and_script_are_shown_as_text_never_as_markup(client):
    html, page = get(client, "/?q=hostile")
    text = " ".join(page.text)
    assert 'id="total">1<' in html
    assert HOSTILE["title"] in text  # shown, as text: the parser decoded it back from escapes
    assert HOSTILE["site"] in text and HOSTILE["person"] in text and HOSTILE["place"] in text
    assert HOSTILE["url"] in text  # the javascript: URL is shown, not linked
    assert_inert(html, page)
    story = next(a["href"] for a in page.links("story-link"))
    html, page = get(client, story)  # the story id travels in the path, quoted
    assert HOSTILE_STORY in " ".join(page.text)
    assert_inert(html, page)
    # Facet values land in hrefs and the reflected query in an input's value: both escaped.
    person = next(a["href"] for a in get(client, "/")[1].links() if a.get("data-facet") == "persons" and "pwned" in a["href"])
    html, page = get(client, person)
    assert 'id="total">1<' in html
    assert_inert(html, page)
    html, page = get(client, '/?q="><script>window.__pwned=1</script>&source=<b>x</b>&entity="><img src=x onerror=1>')
    assert_inert(html, page)
    assert ("input", {"type": "hidden", "name": "source", "value": "<b>x</b>"}) in page.tags


def test_bad_dates_are_reported_not_raised(client):
    html, page = get(client, "/?since=<script>&until=2025-02-19", status=400)
    assert "since: not a date" in html
    assert_inert(html, page)


def test_the_page_only_reads(client):
    assert client.post("/", data={"q": "x"}).status_code == 405
    assert client.get("/healthz").text == "ok"
