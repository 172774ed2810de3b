"""`newsflow bench stories`: how well story grouping keeps copies together and different articles
apart, and what it costs per article beside enrichment.

The corpus has known answers. Its stories are the ground-truth article texts of the development
pages (``shared/bench/extraction/scrapinghub-dev``: whole article bodies; trafilatura-dev's truth is
snippets, not texts). Each text is published as:

* the original, and exact copies on other sites: another headline, and each site's template
  leftovers around the text (share and subscribe lines, a copyright line, as extraction can leave);
* a copy trimmed by its last paragraph, and one extended by a paragraph;
* an "updated" version: a new first paragraph, one paragraph dropped, the end cut.

Different texts are different stories; the texts sharing the most names (capitalised words:
people, organisations, places) are listed as the same-topic pairs that must stay apart.

The articles go, shuffled, in batches through the index stage's ``StoryIndex`` over a real
SQLite index (the embedded default) and, with ``--elasticsearch URL``, over Elasticsearch too.
Printed: pairwise precision and recall (a pair is two articles of one text; predicted when they
share a ``story_id``), the different texts merged (the worst error), recall per kind of copy, and
CPU per article: grouping (``StoryIndex.write`` minus a plain ``Index.write`` of the same
articles, measured in the same run) beside the fingerprint and the whole enrich chain.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False)

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)
SITES = ["Wire Service", "Daily Courier", "Morning Post", "City Herald", "Evening Star", "Valley News"]
CHROME = {  # what a site's template can leave around an extracted text
    "Daily Courier": ("Share this article", "Subscribe to the Daily Courier newsletter for the morning briefing."),
    "Morning Post": ("Advertisement", "© 2026 Morning Post. All rights reserved. Follow us on social media."),
    "City Herald": ("Listen to this article", "Read more: the latest headlines from the City Herald newsroom."),
    "Evening Star": ("", "Have a news tip? Contact the Evening Star. Comments are closed for this story."),
    "Valley News": ("Breaking", "Valley News – local and national news, sport and weather."),
}
EXTRA = ("Background: the decision follows months of talks between the parties involved, officials said, and "
         "more details are expected to be released later this week as reviews continue.")
UPDATE = "UPDATE: this story has been updated with new information and comments received after publication."
KINDS = ("original", "copy", "copy", "copy", "trimmed", "extended", "updated")
MIN_WORDS = 120
# Names: runs of capitalised words (not after a sentence end) and acronyms: people, organisations, places.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:[ ][A-Z][a-z]+)+|[A-Z]{2,})\b")
MIN_SHARED_NAMES = 3


@dataclass(frozen=True)
class Item:
    story: int
    kind: str
    article: object  # newsflow.core.record.Article


def ground_truth_texts() -> list[str]:
    from benchmarks.corpus import shared_dir

    shared = shared_dir()
    truth = shared / "bench" / "extraction" / "scrapinghub-dev" / "ground-truth.json" if shared else None
    if truth is None or not truth.exists():
        out.print("[red]error:[/] the development pages are missing (set NEWSFLOW_SHARED to the shared folder)")
        raise typer.Exit(2)
    bodies = [v["articleBody"] for _, v in sorted(json.loads(truth.read_text(encoding="utf-8")).items())]
    return [b for b in bodies if len(b.split()) >= MIN_WORDS]


def paragraphs(text: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    return paras


def variant(text: str, kind: str, site: str) -> str:
    paras = paragraphs(text)
    if kind == "trimmed" and len(paras) > 2:
        paras = paras[:-1]
    elif kind == "extended":
        paras = [*paras, EXTRA]
    elif kind == "updated":
        keep = [p for i, p in enumerate(paras) if i != 1] if len(paras) > 3 else paras
        paras = [UPDATE, *keep[: max(1, len(keep) * 4 // 5)]]
    head, tail = CHROME.get(site, ("", ""))
    return "\n\n".join(p for p in (head, *paras, tail) if p)


def build_corpus(texts: list[str]) -> list[Item]:
    from newsflow.core.record import Article

    items = []
    for s, text in enumerate(texts):
        for k, kind in enumerate(KINDS):
            site = SITES[(s + k) % len(SITES)]
            slug = site.lower().replace(" ", "-")
            minutes = {"extended": -20, "updated": 180}.get(kind, 7 * k)
            items.append(Item(s, kind, Article.new(
                f"https://{slug}.example/{s}/{k}-{kind}", title=f"Story {s}: {kind} headline of {site}",
                text=variant(text, kind, site), site=site, source=f"{slug}.example",
                published_at=T0 + timedelta(hours=s % 24, minutes=minutes), language_hint="en")))
    return items


def same_topic_pairs(texts: list[str]) -> list[tuple[int, int, list[str]]]:
    """Pairs of different texts sharing at least MIN_SHARED_NAMES names, most shared first."""
    names = [set(_NAME.findall(t)) for t in texts]
    pairs = []
    for a, b in combinations(range(len(texts)), 2):
        common = sorted(names[a] & names[b])
        if len(common) >= MIN_SHARED_NAMES:
            pairs.append((a, b, common))
    return sorted(pairs, key=lambda p: (-len(p[2]), p[0], p[1]))


def fingerprinted(items: list[Item]) -> tuple[list, float]:
    """The articles with their MinHash (the fingerprint enricher), and its CPU seconds."""
    from newsflow.processors.enrich.chain import build_chain
    from newsflow.processors.config import EnrichConfig

    chain = build_chain(EnrichConfig(enrichers=["fingerprint"]))
    started = time.process_time()
    done = [chain(i.article) for i in items]
    return done, time.process_time() - started


def group(index, articles: list, batch: int) -> tuple[dict[str, str], float, float]:
    """Write in batches; the story of each article, the CPU and the wall seconds of the writes."""
    started, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(articles), batch):
        index.write(articles[i : i + batch])
    seconds, wall = time.process_time() - started, time.perf_counter() - wall
    stories = {}
    for a in articles:
        stored = index.get(a.id)
        stories[a.id] = stored.enrichment.story_id if stored is not None and stored.enrichment else None
    return stories, seconds, wall


def closest_different(items: list[Item], articles: list) -> float:
    """The highest estimated similarity between the originals of two different texts."""
    from newsflow.processors.story import similarity

    sig = {a.id: a.enrichment.minhash for a in articles}
    originals = [sig[i.article.id] for i in items if i.kind == "original"]
    return max((similarity(a, b) for a, b in combinations(originals, 2)), default=0.0)


def pairwise(items: list[Item], stories: dict[str, str]) -> dict[str, float]:
    truth: dict[int, list[str]] = defaultdict(list)
    predicted: dict[str, list[int]] = defaultdict(list)
    for i in items:
        truth[i.story].append(i.article.id)
        predicted[stories[i.article.id]].append(i.story)
    tp = fp = fn = 0
    for members in predicted.values():
        counts = Counter(members)
        same = sum(c * (c - 1) // 2 for c in counts.values())
        tp += same
        fp += len(members) * (len(members) - 1) // 2 - same
    for ids in truth.values():
        fn += sum(1 for a, b in combinations(ids, 2) if stories[a] != stories[b])
    merged = {tuple(sorted(p)) for members in predicted.values() for p in combinations(set(members), 2)}
    return {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
            "tp": tp, "fp": fp, "fn": fn, "wrong_merges": len(merged), "stories": len(predicted),
            "_merged": merged}  # type: ignore[dict-item]


def recall_by_kind(items: list[Item], stories: dict[str, str]) -> dict[str, float]:
    original = {i.story: stories[i.article.id] for i in items if i.kind == "original"}
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for i in items:
        if i.kind != "original":
            total[i.kind] += 1
            hit[i.kind] += stories[i.article.id] == original[i.story]
    return {k: hit[k] / total[k] for k in total}


def enrich_cost(items: list[Item], sample: int) -> float | None:
    """CPU ms per article of the default enrich chain on ``sample`` originals (None if a model is missing)."""
    from newsflow.processors.config import EnrichConfig
    from newsflow.processors.enrich import EnricherUnavailable
    from newsflow.processors.enrich.chain import build_chain

    try:
        chain = build_chain(EnrichConfig())
    except EnricherUnavailable as exc:
        out.print(f"enrich chain unavailable ({exc}); its cost is not shown")
        return None
    originals = [i.article for i in items if i.kind == "original"][:sample]
    chain(originals[0])  # lazy models and tables, as a running daemon has them
    started = time.process_time()
    for a in originals:
        chain(a)
    return (time.process_time() - started) * 1000 / max(1, len(originals))


def backends(tmp: Path, es_url: str | None):
    """(name, plain index, story index, cleanup) per backend."""
    from newsflow.index.sqlite_fts import SqliteIndex
    from newsflow.pipeline.stories import with_stories

    plain, storied = SqliteIndex(tmp / "plain.sqlite3"), SqliteIndex(tmp / "stories.sqlite3")
    yield "sqlite", plain, with_stories(storied), lambda: (plain.close(), storied.close())
    if es_url:
        import uuid

        from newsflow.index.config import ElasticsearchConfig
        from newsflow.index.elastic import ElasticIndex

        tag = uuid.uuid4().hex[:8]
        made = [ElasticIndex(ElasticsearchConfig(hosts=[es_url], alias=f"nf-bench-{tag}-{n}-articles",
                                                 feed_status_index=f"nf-bench-{tag}-{n}-status")) for n in ("p", "s")]
        for m in made:
            m.setup()

        def cleanup() -> None:
            for m in made:
                m.destroy()
                m.close()

        yield "elasticsearch", made[0], with_stories(made[1]), cleanup


def bench_stories(
    stories: int = typer.Option(0, "--stories", min=0, help="Use the first N texts of the development set (0: all)."),
    batch: int = typer.Option(200, "--batch", min=1, help="Articles per index write (the index stage's bus.batch_size, 200 by default)."),
    seed: int = typer.Option(17, "--seed", help="Shuffle seed of the arrival order."),
    elasticsearch: str = typer.Option("", "--elasticsearch", help="Also run over this Elasticsearch (e.g. http://127.0.0.1:9200; temporary indices)."),
    enrich_sample: int = typer.Option(20, "--enrich-sample", min=0, help="Articles timed through the whole enrich chain (0: skip)."),
) -> None:
    """Pairwise precision/recall of story grouping on known copies, wrong merges, and its CPU per article."""
    from newsflow.processors.story import THRESHOLDS

    texts = ground_truth_texts()
    if stories:
        texts = texts[:stories]
    items = build_corpus(texts)
    random.Random(seed).shuffle(items)
    topic = same_topic_pairs(texts)
    out.print(f"{len(texts)} texts (stories), {len(items)} articles: {', '.join(f'{k} {v}' for k, v in Counter(i.kind for i in items).items())}")
    articles, fp_seconds = fingerprinted(items)
    n = len(articles)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, plain, storied, cleanup in backends(Path(tmp), elasticsearch or None):
            try:
                _, plain_seconds, plain_wall = group(plain, articles, batch)
                got, story_seconds, story_wall = group(storied, articles, batch)
            finally:
                cleanup()
            results.append((name, pairwise(items, got), recall_by_kind(items, got), (plain_seconds, plain_wall),
                            (story_seconds, story_wall)))
    enrich_ms = enrich_cost(items, enrich_sample) if enrich_sample else None

    table = Table(title=f"story grouping: {n} articles of {len(texts)} stories, batches of {batch}")
    for col in ("backend", "pairwise precision", "pairwise recall", "pairs right / wrong / missed",
                "different texts merged", "stories found"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    for name, m, _, _, _ in results:
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['tp']} / {m['fp']} / {m['fn']}",
                      str(m["wrong_merges"]), f"{m['stories']} (of {len(texts)})")
    out.print(table)
    kinds = Table(title="recall by kind: share in the story of its original")
    kinds.add_column("backend")
    for k in results[0][2]:
        kinds.add_column(k, justify="right")
    for name, _, by_kind, _, _ in results:
        kinds.add_row(name, *(f"{v:.3f}" for v in by_kind.values()))
    out.print(kinds)
    for name, m, _, _, _ in results:
        merged_topic = sum(1 for a, b, _ in topic if (a, b) in m["_merged"])
        out.print(f"{name}: same-topic pairs of different texts (>= {MIN_SHARED_NAMES} shared names): {len(topic)}, "
                  f"merged: {merged_topic}", soft_wrap=True)
    for a, b, common in topic[:5]:
        out.print(f"  texts {a} and {b} share {len(common)} names: {', '.join(common[:6])}", soft_wrap=True)

    out.print(f"highest similarity between two different texts: {closest_different(items, articles):.3f} "
              f"(a story needs {THRESHOLDS.story}, a near copy {THRESHOLDS.near_copy})", soft_wrap=True)

    cost = Table(title="ms per article (CPU of this process; wall clock includes the index server's work)")
    for col in ("step", "CPU ms", "wall ms"):
        cost.add_column(col, justify="left" if col == "step" else "right")
    cost.add_row("fingerprint (MinHash, the fingerprint enricher)", f"{fp_seconds * 1000 / n:.2f}", "")
    for name, _, _, (plain_s, plain_w), (story_s, story_w) in results:
        cost.add_row(f"{name}: index write, plain (baseline)", f"{plain_s * 1000 / n:.2f}", f"{plain_w * 1000 / n:.2f}")
        cost.add_row(f"{name}: index write with story grouping", f"{story_s * 1000 / n:.2f}", f"{story_w * 1000 / n:.2f}")
        cost.add_row(f"{name}: grouping alone (difference)", f"{(story_s - plain_s) * 1000 / n:.2f}",
                     f"{(story_w - plain_w) * 1000 / n:.2f}")
    if enrich_ms is not None:
        cost.add_row(f"enrich chain, every enricher ({min(enrich_sample, len(texts))} originals)", f"{enrich_ms:.1f}", "")
    out.print(cost)
    out.print("goal: precision >= 0.99 and recall >= 0.95 on the copies, no different texts merged")
