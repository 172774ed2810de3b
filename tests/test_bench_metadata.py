"""`newsflow bench metadata`: its scoring on answers known in advance, the loader that puts the
peers' test data in one layout, and the command over a two-page set."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchmarks.metadata import (
    Case, Fields, byline_match, day_of, load_cases, same_day, score, site_match, title_exact, title_lenient,
)
from benchmarks.metadata_sets import MIN_BODY_WORDS, build

REPO = Path(__file__).resolve().parent.parent
BODY = "<p>" + " ".join(["word"] * (MIN_BODY_WORDS + 10)) + "</p>"


def test_title_exact_ignores_spacing_and_typographic_quotes_only() -> None:
    assert title_exact(["Trump\u2019s  testimony \u2014 takeaways"], "Trump's testimony - takeaways")
    assert not title_exact(["Trump's testimony"], "trump's testimony")  # case counts
    assert not title_exact(["Headline"], "Headline | CNN")
    assert title_exact(["The SEO title", "The headline"], "The headline")  # title_also
    assert not title_exact(["Headline"], None)


def test_title_lenient_allows_a_short_site_or_section_part_at_one_end() -> None:
    assert title_lenient(["Democrats to use Social Security against GOP this fall - CNN.com"],
                         "Democrats to use Social Security against GOP this fall")
    assert title_lenient(["Five lessons for business"], "TechCrunch | Five lessons for business")
    assert title_lenient(["council approves BUDGET"], "Council approves budget!")
    # More than a third of the words added: another title, not the same with a label.
    assert not title_lenient(["Budget"], "Budget passes after a long debate")
    assert not title_lenient(["Council approves budget"], "Council rejects budget")
    assert not title_lenient(["Headline"], "")


def test_byline_is_the_same_set_of_names() -> None:
    assert byline_match(["Dana A. Ford", "Tom Watkins"], ["Tom Watkins", "dana a ford"])
    assert not byline_match(["Dana A. Ford", "Tom Watkins"], ["Dana A. Ford"])  # one missing
    assert not byline_match(["Tom Bennett"], ["Tom Bennett", "Condé Nast"])  # one too many
    assert not byline_match(["Tom Bennett"], None)


def test_date_is_the_day_in_the_pages_own_time_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert same_day("2018-06-19T05:50:00+09:00", day_of(datetime(2018, 6, 19, 5, 50, tzinfo=tokyo)))
    # The same instant in UTC is the day before: a miss.
    assert not same_day("2018-06-19T05:50:00+09:00", day_of(datetime(2018, 6, 18, 20, 50, tzinfo=timezone.utc)))
    assert same_day("2023/02/21 21:20", date(2023, 2, 21))
    assert not same_day("2023-02-21", None)


def test_site_ignores_case_www_and_the_domain_suffix() -> None:
    assert site_match("CNN", "cnn.com")
    assert site_match("cleveland.com", "Cleveland")
    assert site_match("Sott.net", "www.sott.net")
    assert not site_match("CNN", "CNN Politics")
    assert not site_match("WIRED", None)


def test_score_counts_only_the_pages_that_give_a_field() -> None:
    cases = [
        Case("a", Path("a"), "https://a.example/1", title="Alpha headline", authors=["Ann Lee"], site="Alpha"),
        Case("b", Path("b"), "https://b.example/1", title="Beta headline", published="2024-05-01T23:30:00-04:00"),
        Case("c", Path("c"), "https://c.example/1"),  # nothing expected: scored nowhere
    ]
    answers = {
        "a": Fields("Alpha headline | Alpha", ["Ann Lee"], None, "alpha.com"),
        "b": Fields("Beta headline", ["Someone"], date(2024, 5, 2), None),
        "c": Fields("Whatever", ["Ann Lee"], date(2024, 1, 1), "C"),
    }
    assert score(cases, answers) == {
        "title_exact": (1, 2), "title_lenient": (2, 2), "byline": (1, 1), "date": (0, 1), "site": (1, 1),
    }
    assert score(cases, {}) == {"title_exact": (0, 2), "title_lenient": (0, 2), "byline": (0, 1), "date": (0, 1),
                                "site": (0, 1)}


def _peer_checkouts(root: Path) -> tuple[Path, Path]:
    """The two peers' test-data layouts, in miniature."""
    goose = root / "goose3"
    (goose / "tests" / "data" / "content").mkdir(parents=True)
    (goose / "tests" / "data" / "authors").mkdir(parents=True)
    page = f"<html><head><title>Alpha - Site</title></head><body><h1>Alpha</h1>{BODY}</body></html>"
    (goose / "tests" / "data" / "content" / "test_alpha.html").write_text(page)
    (goose / "tests" / "data" / "content" / "test_alpha.json").write_text(json.dumps(
        {"url": "http://a.example/alpha", "expected": {"title": "Alpha", "cleaned_text": "word"}}))
    (goose / "tests" / "data" / "authors" / "test_tiny.html").write_text("<html><head></head><body></body></html>")
    (goose / "tests" / "data" / "authors" / "test_tiny.json").write_text(json.dumps({"expected": {"authors": ["X Y"]}}))
    (goose / "tests" / "data" / "authors" / "test_author_config.html").write_text(page)
    (goose / "tests" / "data" / "authors" / "test_author_config.json").write_text(
        json.dumps({"expected": {"authors": ["X Y"]}}))
    paper = root / "newspaper4k"
    (paper / "tests" / "data" / "html").mkdir(parents=True)
    (paper / "tests" / "data" / "metadata").mkdir(parents=True)
    (paper / "tests" / "data" / "html" / "beta.html").write_text(
        f"<html><head><title>Beta</title></head><body>{BODY}</body></html>")
    (paper / "tests" / "data" / "metadata" / "beta.json").write_text(json.dumps(
        {"url": "https://b.example/beta", "title": "Beta", "authors": [], "publish_date": "2024-05-01T00:00:00",
         "meta_site_name": "Beta News", "text": "ignored"}))
    return goose, paper


def test_loader_puts_both_peer_formats_in_one_layout(tmp_path: Path) -> None:
    goose, paper = _peer_checkouts(tmp_path)
    out = tmp_path / "set"
    build(out, {"goose3": (goose, "abc123"), "newspaper4k": (paper, None)})
    expected = json.loads((out / "expected.json").read_text())
    assert set(expected) == {"goose3-alpha", "newspaper4k-beta"}  # no meta-only page, no config test
    assert expected["goose3-alpha"]["title"] == "Alpha" and expected["goose3-alpha"]["authors"] is None
    beta = expected["newspaper4k-beta"]
    assert (beta["url"], beta["authors"], beta["published"], beta["site"]) == (
        "https://b.example/beta", None, "2024-05-01T00:00:00", "Beta News")
    assert gzip.decompress((out / "html" / "newspaper4k-beta.html.gz").read_bytes()).startswith(b"<html>")
    readme = (out / "README.md").read_text()
    assert "goose3" in readme and "abc123" in readme and "Apache-2.0" in readme and "MIT" in readme
    assert [c.key for c in load_cases(out)] == ["goose3-alpha", "newspaper4k-beta"]


def test_bench_metadata_command_prints_every_extractor(tmp_path: Path) -> None:
    goose, paper = _peer_checkouts(tmp_path)
    build(tmp_path / "set", {"goose3": (goose, None), "newspaper4k": (paper, None)})
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "newsflow", "bench", "metadata", str(tmp_path / "set"), "--halves"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("newsflow", "trafilatura", "readability title()", "readability short_title()", "half 1", "half 2"):
        assert name in proc.stdout, proc.stdout
    assert "title exact (2)" in proc.stdout and "site (1)" in proc.stdout, proc.stdout
