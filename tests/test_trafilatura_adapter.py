"""newsflow's dependencies on trafilatura's internals (ingest/extract/trafilatura_adapter.py).

These fail when a trafilatura upgrade renames, removes or stops calling what the adapter
relies on, rather than the tail check or the role-box filter going quietly silent.
"""

from __future__ import annotations

import inspect

import trafilatura.external
import trafilatura.main_extractor
import trafilatura.metadata
import trafilatura.settings
from lxml.html import HtmlElement
from trafilatura import load_html

from newsflow.ingest.extract import trafilatura_adapter as adapter

PAGE = """<!DOCTYPE html><html lang="en"><head><title>Council approves budget</title>
<meta name="author" content="Jane Doe"><meta property="og:site_name" content="City News">
<meta property="article:published_time" content="2024-03-05T10:00:00+01:00"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article>
<h1>Council approves budget</h1>
<p>The city council approved the new budget on Tuesday after a debate that lasted more than six hours.</p>
<p>Opposition members said the spending plan relied on optimistic forecasts for tax revenue next year.</p>
<div class="affiliate-disclaimer"><p>We may earn a commission when you buy through the links on this page.</p></div>
<p>The mayor said the budget protected schools and public transport while keeping fees unchanged.</p>
</article><footer>Copyright 2024 City News</footer></body></html>"""


def test_the_recorders_replace_the_functions_trafilatura_calls() -> None:
    assert trafilatura.external.try_readability is adapter.recorded_readability
    assert trafilatura.main_extractor.handle_textelem is adapter.recorded_textelem
    # trafilatura looks both up as module globals at each call: that is what makes the recorders work.
    assert "try_readability(" in inspect.getsource(trafilatura.external.compare_extraction)
    assert "handle_textelem(" in inspect.getsource(trafilatura.main_extractor)
    # and they wrap trafilatura's own functions, with the signature the recorders pass on
    assert list(inspect.signature(adapter.recorded_readability.__wrapped__).parameters) == ["htmlinput"]
    assert list(inspect.signature(adapter.recorded_textelem.__wrapped__).parameters) == [
        "element", "potential_tags", "options"]


def test_a_read_records_readability_and_every_kept_block_with_its_source_element() -> None:
    blocks: list[tuple[str, list[str]]] = []  # each kept block's text, and its source's classes up the tree

    def on_block(element: HtmlElement, block: HtmlElement) -> None:
        classes = [a.get("class") or "" for a in [element, *element.iterancestors()]]
        blocks.append((" ".join(block.itertext()), classes))

    reading = adapter.read_body(load_html(PAGE), "https://news.example.org/a.html", on_block=on_block)
    assert isinstance(reading.document, adapter.Document) and reading.document.body is not None
    assert reading.readability is not None
    assert "optimistic forecasts for tax revenue" in " ".join(reading.readability.itertext())
    assert any("optimistic forecasts" in text for text, _ in blocks)
    # the source element is the page's (in trafilatura's copy), its ancestors' classes included
    assert any("We may earn a commission" in text and "affiliate-disclaimer" in classes for text, classes in blocks)


def test_nothing_is_recorded_outside_a_read() -> None:
    assert adapter._WATCH.get() is None
    trafilatura.bare_extraction(load_html(PAGE), url="https://news.example.org/a.html")  # no read_body: no watch
    assert adapter._WATCH.get() is None


def test_the_metadata_steps_newsflow_runs_are_there() -> None:
    tree = load_html(PAGE)
    meta = adapter.examine_meta(tree)
    assert isinstance(meta, adapter.Document) and meta.author == "Jane Doe" and meta.sitename == "City News"
    assert adapter.extract_meta_json(tree, meta) is not None
    assert adapter.extract_title(tree) == "Council approves budget"
    adapter.extract_sitename(tree)  # callable on a tree; a name or None
    adapter.extract_author(tree)  # callable on a tree; finds a byline or None
    params = adapter.set_date_params(False)
    assert isinstance(params, dict) and "extensive_search" in params and params["extensive_search"] is False
    assert adapter.Document is trafilatura.settings.Document
    for name in ("examine_meta", "extract_author", "extract_meta_json", "extract_sitename", "extract_title"):
        assert getattr(adapter, name) is getattr(trafilatura.metadata, name)
