"""The HTML parser's nesting limit (issue 14, item 9): text below it is lost, and that is said."""

from __future__ import annotations

import logging

import pytest

from newsflow.ingest.extract.article import extract
from newsflow.ingest.extract.depth import MAX_DEPTH
from newsflow.ingest.extract.errors import ExtractionError

URL = "https://news.example.org/a.html"
ARTICLE = ("<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>"
           "<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>")
COMMENTS = "<p>A reader wrote that the council should have cut the fees for the swimming pool instead.</p>"


def nested(levels: int, inner: str, tag: str = "div") -> str:
    return f"<{tag}>" * levels + inner + f"</{tag}>" * levels


def page(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>Council budget</title></head><body>{body}</body></html>".encode()


def test_article_text_nested_300_deep_fails_as_too_deep() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(page(nested(300, f"<article>{ARTICLE}</article>")), URL)
    assert err.value.kind == "too_deep"
    assert f"deeper than {MAX_DEPTH} levels" in str(err.value)
    assert URL in str(err.value)


def test_unclosed_inline_tags_reach_the_limit_too() -> None:
    # Sloppy markup nests by itself: 300 <font> never closed.
    with pytest.raises(ExtractionError) as err:
        extract(page("<font size=2>" * 300 + f"<article>{ARTICLE}</article>"), URL)
    assert err.value.kind == "too_deep"


def test_text_above_the_limit_is_kept_and_the_cut_noted(caplog: pytest.LogCaptureFixture) -> None:
    # The article, then a comment thread nested 300 deep: the article stays, the loss is said.
    with caplog.at_level(logging.WARNING, logger="newsflow.ingest.extract.article"):
        result = extract(page(f"<article>{ARTICLE}</article>" + nested(300, COMMENTS)), URL)
    assert "approved the new budget" in result.article.text
    assert "swimming pool" not in result.article.text
    assert any(f"nested deeper than {MAX_DEPTH} elements" in note for note in result.notes)
    assert any(f"nested deeper than {MAX_DEPTH} elements" in r.getMessage() and URL in r.getMessage()
               for r in caplog.records)


def test_a_page_that_just_fits_is_not_flagged() -> None:
    # <html>, <body>, 253 <div> and the <p>: 256 levels, the most the parser keeps.
    result = extract(page(nested(MAX_DEPTH - 3, ARTICLE)), URL)
    assert "approved the new budget" in result.article.text
    assert not any("nested deeper" in note for note in result.notes)


def test_a_page_one_level_deeper_is() -> None:
    with pytest.raises(ExtractionError) as err:
        extract(page(nested(MAX_DEPTH - 2, ARTICLE)), URL)
    assert err.value.kind == "too_deep"
