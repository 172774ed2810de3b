"""Chrome planted before, between and after the paragraphs of synthetic pages (5 platforms x
4 languages, ``benchmarks.planted``): newsflow leaks none of it and keeps every article word."""

from __future__ import annotations

import pytest

from benchmarks.planted import leaks, lost_words, pages
from newsflow.ingest.extract.article import extract

PAGES = pages()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_planted_chrome_goes_and_the_article_stays(page) -> None:  # type: ignore[no-untyped-def]
    text = extract(page.html.encode(), page.url).article.text
    assert leaks(text, page) == []
    assert lost_words(text, page) == 0


def test_the_scorer_sees_a_leak_and_a_loss() -> None:
    # the counters themselves can fail: a text with one chrome line and a paragraph missing
    page = PAGES[0]
    text = "\n\n".join([page.chrome[0], *page.paragraphs[1:]])
    assert leaks(text, page) == [page.chrome[0]]
    assert lost_words(text, page) == len(page.paragraphs[0].split())
