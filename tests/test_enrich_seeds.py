"""Seed texts shared by the enrichment tests (no tests here)."""

from pathlib import Path

from newsflow.core.record import Article

EXPECTED = Path(__file__).resolve().parents[1] / "seeds" / "site" / "expected"
SEEDS = {
    "post-us-russia-talks": "Ongoing US-Russia Talks: “Complicated.”",
    "post-2": "Heavy Snowfall Disrupts Rail and Road Traffic in the North",
    "post-3": "Electricity Prices Climb to New Winter High as Cold Snap Continues",
}


def seed_text(name: str) -> str:
    return (EXPECTED / f"{name}.txt").read_text(encoding="utf-8")


def seed_article(name: str, **fields) -> Article:
    fields.setdefault("title", SEEDS[name])
    fields.setdefault("language_hint", "en")
    return Article.new(f"https://example-news.blogspot.com/{name}.html", text=seed_text(name), **fields)


def test_seed_texts_are_there():
    for name in SEEDS:
        assert len(seed_text(name).split()) > 50, name
