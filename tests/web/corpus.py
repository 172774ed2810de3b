"""The articles the web tests index: two stories over three days and sites, and one hostile
article whose every shown field carries markup and script (title, text, summary, site, url,
entities, places, story id), as a page it was extracted from might."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from newsflow.core.record import Article, Enrichment, Entities, Place

T0 = datetime(2025, 2, 18, 9, 30, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SENTINEL = "__pwned"  # a script that ran sets window.__pwned
HOSTILE_STORY = 'evil"><img src=x onerror=window.__pwned=9>'
HOSTILE = {
    "title": '<script>window.__pwned="title"</script>Hostile <b onmouseover="window.__pwned=1">hostile</b> "quoted" & more',
    "text": 'Hostile talks <img src=x onerror="window.__pwned=\'img\'"></textarea><script>window.__pwned="text"</script> end',
    "summary": '<svg onload="window.__pwned=\'svg\'"></svg> summary',
    "site": 'Evil "Site" <script>window.__pwned="site"</script>',
    "url": 'javascript:window.__pwned="href"//https://evil.example/',
    "person": '<script>window.__pwned="facet"</script>',
    "place": '"><iframe src="javascript:window.__pwned=\'place\'">',
}


def _article(i: int, title: str, text: str, *, site: str, story: str | None, relation: str | None = None,
             at: datetime = T0, persons: list[str] = (), places: list[str] = (), url: str | None = None,
             summary: str | None = None, language: str = "en") -> Article:  # fmt: skip
    enrichment = Enrichment(
        language=language,
        entities=Entities(persons=list(persons), organisations=["Kremlin"] if i % 2 else []),
        places=[Place(name=p) for p in places],
        story_id=story,
        story_relation=relation,
    )
    return Article.new(
        url or f"https://{site.lower().replace(' ', '-')}.example/{i}",
        title=title, text=text, summary=summary, site=site, source=f"{site.lower().replace(' ', '-')}.example",
        published_at=at, feeds=["https://feeds.example/rss"], enrichment=enrichment,
    )  # fmt: skip


def articles() -> list[Article]:
    talks = "Officials from the US and Russia met in Riyadh for talks on Ukraine."
    return [
        _article(1, "US and Russia meet in Riyadh", talks, site="Wire A", story="s-talks", relation="first",
                 at=T0 - DAY, persons=["Marco Rubio"], places=["Riyadh"]),
        _article(2, "Riyadh talks: US and Russia meet", talks, site="Paper B", story="s-talks", relation="near_copy",
                 persons=["Marco Rubio", "Sergei Lavrov"], places=["Riyadh"]),
        _article(3, "What the Riyadh talks mean", talks + " An analysis.", site="Paper C", story="s-talks",
                 relation="rewrite", at=T0 + DAY, persons=["Sergei Lavrov"]),
        _article(4, "Markets fall", "Stocks were down in Frankfurt.", site="Wire A", story="s-markets",
                 relation="first", language="de"),
        _article(5, "Markets fall again", "Stocks were down in Frankfurt again.", site="Paper B", story="s-markets",
                 relation="near_copy", at=T0 + DAY, language="de"),
        _article(6, HOSTILE["title"], HOSTILE["text"], site=HOSTILE["site"], story=HOSTILE_STORY, relation="first",
                 persons=[HOSTILE["person"]], places=[HOSTILE["place"]], url=HOSTILE["url"], summary=HOSTILE["summary"]),
    ]  # fmt: skip
