"""Copies of a few texts across sites, for the story tests: each base text gives an original, an
exact copy under another headline, a trimmed copy, an extended one published earlier, and an
updated version; the bases include different articles on the same topic (same people, day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsflow.core.record import Article
from newsflow.processors.enrich.fingerprint import fingerprint
from newsflow.processors.story import story_keys

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2022, 1, 10, 9, 0, tzinfo=timezone.utc)
BASES = {
    "us-russia": REPO / "seeds" / "us-russia-talks.txt",
    "snow": REPO / "seeds" / "site" / "expected" / "post-2.txt",
    "prices": REPO / "seeds" / "site" / "expected" / "post-3.txt",
    "geneva-wire": REPO / "tests" / "fixtures" / "stories" / "geneva-talks-wire.txt",
    "geneva-analysis": REPO / "tests" / "fixtures" / "stories" / "geneva-talks-analysis.txt",
}
SITES = ["Wire Service", "Daily Courier", "Morning Post", "City Herald", "Evening Star"]


@dataclass(frozen=True)
class Copy:
    story: str  # the base text it comes from: the expected story
    article: Article


def variants(text: str) -> dict[str, str]:
    paras = [p for p in text.split("\n\n") if p.strip()]
    return {
        "original": text,
        "copy": text,
        "trimmed": "\n\n".join(paras[:-1]) if len(paras) > 2 else text[: len(text) * 9 // 10],
        "extended": text + "\n\nThis report was updated with comments from officials who spoke on condition of anonymity.",
        "updated": "UPDATE: new details were added to this story on Monday evening.\n\n" + text,
    }


def corpus() -> list[Copy]:
    out: list[Copy] = []
    for b, (story, path) in enumerate(BASES.items()):
        text = path.read_text(encoding="utf-8")
        for v, (kind, body) in enumerate(variants(text).items()):
            minutes = {"extended": -30, "updated": 120}.get(kind, 10 * v)
            site = SITES[(b + v) % len(SITES)]
            slug = site.lower().replace(" ", "-")
            out.append(Copy(story, Article.new(
                f"https://{slug}.example/{story}/{kind}", title=f"{story} {kind} ({site})", text=body, site=site,
                source=f"{slug}.example", published_at=T0 + timedelta(hours=b, minutes=minutes), language_hint="en",
            )))
    return out


def fingerprinted(article: Article) -> Article:
    """The article as the fingerprint enricher leaves it (no other enricher needed)."""
    from newsflow.core.record import Enrichment

    sig = fingerprint(article.text)
    return article.model_copy(update={"enrichment": Enrichment(minhash=sig, story_bands=story_keys(sig, article.text))})
