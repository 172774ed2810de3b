"""Per-site template learning: lines recurring on several pages of a site are stripped at the
text's edges; a line seen on one page never is; the memory survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.ingest.extract.site_templates import SiteTemplates

SITE = "news.example.org"
PROMO = "Get Motor Cycle Monthly delivered through your letterbox every month."
PROMPT = "Tell us what YOU think..."


def page(n: int, *, head: str = "", tail: str = f"{PROMO}\n\n{PROMPT}") -> str:
    body = f"Story {n} begins with its own first sentence, number {n}.\n\nIts second paragraph, also unique to {n}."
    return "\n\n".join(x for x in (head, body, tail) if x)


def test_lines_repeated_on_several_pages_are_stripped_at_the_edges() -> None:
    memory = SiteTemplates(min_pages=3)
    for n in range(3):
        memory.observe(SITE, page(n, head="Subscribe | Log in"))
    new = page(7, head="Subscribe | Log in")
    result = memory.strip(SITE, new)
    assert result.text == page(7, tail="")
    assert result.removed == ["Subscribe | Log in", PROMO, PROMPT]


def test_a_line_seen_on_one_page_only_is_never_stripped() -> None:
    memory = SiteTemplates(min_pages=2)
    text = page(1, tail="A closing line only this story has.")
    memory.observe(SITE, text)
    memory.observe(SITE, text)  # the same page again (a re-fetch) counts once
    assert memory.pages_with(SITE, "A closing line only this story has.") == 1
    assert memory.strip(SITE, text).text == text


def test_below_the_threshold_nothing_goes() -> None:
    memory = SiteTemplates(min_pages=3)
    for n in range(2):
        memory.observe(SITE, page(n))
    assert memory.strip(SITE, page(5)).removed == []


def test_other_sites_and_inner_lines_are_untouched() -> None:
    memory = SiteTemplates(min_pages=2)
    inner = "Background"
    texts = [f"Lead {n} is unique here.\n\n{inner}\n\nBody {n} is unique too.\n\n{PROMO}" for n in range(3)]
    for t in texts:
        memory.observe(SITE, t)
    result = memory.strip(SITE, texts[0])
    assert inner in result.text and PROMO not in result.text
    assert memory.strip("other.example.com", texts[0]).text == texts[0]


def test_a_text_made_only_of_recurring_lines_is_kept_whole() -> None:
    memory = SiteTemplates(min_pages=2)
    notice = "This site is closed for maintenance."
    memory.observe(SITE, notice + "\n\nFirst.")
    memory.observe(SITE, notice + "\n\nSecond.")
    assert memory.strip(SITE, notice).text == notice


def test_matching_ignores_case_and_spacing() -> None:
    memory = SiteTemplates(min_pages=2)
    memory.observe(SITE, page(1))
    memory.observe(SITE, page(2, tail=f"{PROMO.upper()}\n\n  {PROMPT}  "))
    assert memory.pages_with(SITE, PROMO) == 2
    assert memory.pages_with(SITE, PROMPT) == 2


def test_memory_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "data" / "site-memory.json"
    first = SiteTemplates(path, min_pages=3)
    for n in range(3):
        first.observe(SITE, page(n))
    first.save()
    second = SiteTemplates(path, min_pages=3)
    assert len(second) == 1
    assert second.strip(SITE, page(9)).text == page(9, tail="")
    assert second.observe(SITE, page(0)) is False  # pages already counted are remembered too


def test_a_corrupt_memory_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "site-memory.json"
    path.write_text("{not json", encoding="utf-8")
    memory = SiteTemplates(path)
    assert len(memory) == 0
    memory.observe(SITE, page(1))
    memory.save()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 1


def test_a_threshold_of_one_page_is_refused() -> None:
    with pytest.raises(ValueError):
        SiteTemplates(min_pages=1)


def test_the_poller_step_strips_then_learns(tmp_path: Path) -> None:
    from newsflow.core.record import Article
    from newsflow.ingest.extract.site_templates import learn_and_strip

    memory = SiteTemplates(tmp_path / "m.json", min_pages=3)
    articles = [Article.new(f"https://{SITE}/story-{n}", text=page(n), source=SITE) for n in range(4)]
    out = [learn_and_strip(memory, a) for a in articles]
    assert [PROMO in a.text for a in out] == [True, True, True, False]  # learnt from the first three
    assert out[3].text == page(3, tail="") and out[3].id == articles[3].id


def test_memory_over_all_sites_is_capped_forgetting_the_least_recent_site(monkeypatch) -> None:
    from newsflow.ingest.extract import site_templates

    monkeypatch.setattr(site_templates, "MAX_TOTAL_LINES", 36)
    memory = SiteTemplates(min_pages=3)
    for site in ("a.example", "b.example", "c.example"):
        for n in range(3):
            memory.observe(site, page(n))  # 2 unique lines a page + the 2 template lines: 8 a site
    for n in range(3, 8):
        memory.observe("a.example", page(n))  # a is busy again: b is now the least recent
    memory.observe("d.example", page(0))
    assert memory.total_lines <= 36
    assert memory.pages_with("b.example", PROMO) == 0  # forgotten
    assert memory.pages_with("a.example", PROMO) == 8 and memory.pages_with("d.example", PROMO) == 1
    assert memory.total_lines == sum(len(e.lines) for e in memory._sites.values())


def test_saves_are_timed_not_per_page(tmp_path: Path) -> None:
    from newsflow.ingest.extract import site_templates

    memory = SiteTemplates(tmp_path / "memory.json")
    assert not memory.save_due()  # nothing learnt yet
    memory.observe(SITE, page(1))
    assert not memory.save_due()  # learnt, but saved (created) less than SAVE_SECONDS ago
    assert memory.save_due(now=memory._saved_at + site_templates.SAVE_SECONDS)
    memory.save()
    assert not memory.save_due(now=memory._saved_at + site_templates.SAVE_SECONDS)  # nothing new since


def test_the_poller_saves_what_was_learnt_when_it_closes(tmp_path: Path) -> None:
    from newsflow.pipeline.poll_stage import build_poller
    from newsflow.settings import Settings

    settings = Settings(data_dir=tmp_path)
    poller = build_poller(settings, sink=lambda article: None)
    site = Path(__file__).resolve().parents[1] / "seeds" / "site"
    url = "https://example-news.blogspot.com/2022/01/post-us-russia-talks.html"
    extracted = poller._extract.submit((site / "post-us-russia-talks.html").read_bytes(), url, None, url).result(60)
    article = poller._after_extract(extracted)  # learn, in the poller's process
    memory_file = tmp_path / "site-memory.json"
    assert not memory_file.exists()  # learnt, but no timed save is due yet
    poller.close()
    poller.store.close()
    saved = json.loads(memory_file.read_text())
    assert list(saved["sites"]) == [article.source] and saved["sites"][article.source]["lines"]
