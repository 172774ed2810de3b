"""Extraction in worker processes with a time budget per page (ingest/extract_workers.py)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from newsflow.ingest.config import ExtractConfig
from newsflow.ingest.extract_workers import ExtractTimeout, ExtractWorkers, WorkerFailed

SEED = Path(__file__).resolve().parents[1] / "seeds" / "site" / "post-us-russia-talks.html"
URL = "https://example-news.blogspot.com/2022/01/post-us-russia-talks.html"


def slow_page(paragraphs: int = 40_000) -> bytes:
    """A few MB of distinct paragraphs in nested divs: seconds of extraction."""
    body = "".join(f"<div><p>Paragraph {i} says something about topic {i % 97} at length.</p></div>" for i in range(paragraphs))
    return f"<html><head><title>slow</title></head><body><article>{body}</article></body></html>".encode()


@pytest.fixture
def workers():
    pool = ExtractWorkers(ExtractConfig(), workers=1, budget=1.5)
    try:
        yield pool
    finally:
        pool.close()


def test_a_page_over_budget_fails_alone_and_its_worker_is_replaced(workers: ExtractWorkers) -> None:
    started = time.monotonic()
    with pytest.raises(ExtractTimeout) as err:
        workers.submit(slow_page(), "https://slow.example/a.html", None, "https://slow.example/feed").result(60)
    assert err.value.kind == "extract_timeout" and "1.5s" in str(err.value)
    assert time.monotonic() - started < 30
    # The next page goes through a new worker.
    article = workers.submit(SEED.read_bytes(), URL, None, URL).result(60)
    assert article.title and "Stoltenberg" in article.text


def test_the_extractors_own_verdicts_come_back_with_their_kind(workers: ExtractWorkers) -> None:
    with pytest.raises(WorkerFailed) as err:
        workers.submit(b"<html><body><p>x</p></body></html>", "https://a.example/x.html", None, "https://a.example/f").result(60)
    assert err.value.kind == "no_text"


def test_a_page_given_up_by_its_caller_stops_quietly(workers: ExtractWorkers, caplog: pytest.LogCaptureFixture) -> None:
    """A feed's deadline cancels the page's future while it is extracted: its worker used to try to
    set the result of a cancelled future ("exception calling callback", InvalidStateError)."""
    with caplog.at_level(logging.ERROR):
        page = workers.submit(slow_page(), "https://slow.example/a.html", None, "https://slow.example/feed")
        queued = workers.submit(slow_page(), "https://slow.example/b.html", None, "https://slow.example/feed")
        time.sleep(0.5)
        assert page.cancel() and queued.cancel()
        started = time.monotonic()
        article = workers.submit(SEED.read_bytes(), URL, None, URL).result(60)
        assert "Stoltenberg" in article.text
        assert time.monotonic() - started < 30
        time.sleep(2.0)  # past the cancelled page's budget: its callback has run
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_the_extractors_byte_limit_is_the_fetch_cap(tmp_path: Path) -> None:
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.extract.errors import ExtractionError
    from newsflow.pipeline.poll_stage import build_poller
    from newsflow.settings import Settings

    page = SEED.read_bytes()
    with pytest.raises(ExtractionError) as err:
        extract_article(page, URL, settings=ExtractConfig(max_page_bytes=len(page) - 1))
    assert err.value.kind == "too_large"
    poller = build_poller(Settings(data_dir=tmp_path, poller={"max_body_bytes": 123_456}), sink=lambda a: None)
    try:
        assert poller._extract.config.max_page_bytes == 123_456
    finally:
        poller.close()
        poller.store.close()
