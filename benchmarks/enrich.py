"""`newsflow bench enrich`: each enricher's cost per article beside extraction's, on the same pages.

The issue it answers: enrichment should cost less than extracting the page it enriches. Over the
corpus pages (``shared/bench/extraction/*``, as `bench pipeline` uses them) it times, in one
process and one thread:

* newsflow's extractor on each page (the baseline: the cost enrichment is compared with);
* the enrich chain on each extracted article, one at a time as the enrich daemon calls it, with
  each enricher's share;
* when the reference YAKE (LIAAD's ``yake``, a dev dependency) is installed, it on the same texts
  with the same settings, and how often its keyphrases are the ones newsflow's yake-rust gives.

CPU is ``time.process_time`` of this process; the per-enricher split is the chain's own wall
clock per enricher (one thread, so the same up to other processes' interference).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table


out = Console(highlight=False)


@dataclass
class ReferenceYake:
    ms_per_article: float
    same_set: int  # articles whose keyphrases are the same set under both
    phrase_overlap: float  # mean share of the reference's phrases that newsflow also gives
    compared: int


def reference_yake(texts: list[tuple[str, str | None]], ours: list[list[str]], max_keyphrases: int) -> ReferenceYake | None:
    """The reference implementation on the same texts, same settings and same post-processing."""
    try:
        import yake
    except ImportError:
        return None
    from newsflow.processors.enrich import keyphrases as k

    extractors: dict[str, yake.KeywordExtractor] = {}
    theirs: list[list[str]] = []
    started = time.process_time()
    for text, lang in texts:
        prepared = k.yake_input(text, lang)
        if prepared is None:
            theirs.append([])
            continue
        text, code = prepared
        code = "noLang" if code == k.NO_LANGUAGE else code  # the reference's empty list
        ex = extractors.get(code)
        if ex is None:
            ex = extractors[code] = yake.KeywordExtractor(
                lan=code, n=k.NGRAM, dedup_lim=k.DEDUP_LIM, top=max_keyphrases * k.CANDIDATES_PER_PHRASE
            )
        theirs.append(k.pick_diverse([p for p, _ in ex.extract_keywords(text)], max_keyphrases))
    seconds = time.process_time() - started
    pairs = [(a, b) for a, b in zip(ours, theirs) if b]
    overlap = [len({p.casefold() for p in a} & {p.casefold() for p in b}) / len(b) for a, b in pairs]
    return ReferenceYake(
        ms_per_article=seconds * 1000 / max(1, len(texts)),
        same_set=sum(1 for a, b in pairs if set(a) == set(b)),
        phrase_overlap=sum(overlap) / max(1, len(overlap)),
        compared=len(pairs),
    )


def bench_enrich(
    pages: int = typer.Option(0, "--pages", min=0, help="Use the first N corpus pages (0: all of them)."),
    enrichers: str = typer.Option("", "--enrichers", help="Comma-separated enrichers (default: the config default, every one)."),
) -> None:
    """Each enricher's CPU per article beside the extractor's on the same pages (and the reference
    YAKE beside newsflow's keyphrases, when installed)."""
    from newsflow.ingest.extract.article import extract_article
    from benchmarks.corpus import load_pages
    from newsflow.processors.config import EnrichConfig
    from newsflow.processors.enrich.chain import build_chain

    cfg = EnrichConfig() if not enrichers else EnrichConfig(enrichers=[e.strip() for e in enrichers.split(",") if e.strip()])
    chain = build_chain(cfg)
    raw = load_pages(pages or None)
    out.print(f"{len(raw)} pages; enrichers: {', '.join(chain.names)}")

    articles = []
    extract_seconds = 0.0
    with Progress(console=out, transient=True) as progress:
        task = progress.add_task("extract", total=len(raw))
        extract_article(raw[0], "http://bench.test/warm-up")  # imports and regexes, as a running poller has
        for n, page in enumerate(raw):
            started = time.process_time()
            try:
                article = extract_article(page, f"http://bench.test/article/{n}")
            except Exception:
                article = None  # not an article: nothing to enrich
            extract_seconds += time.process_time() - started
            if article is not None and article.text:
                articles.append(article)
            progress.advance(task)

        if not articles:
            out.print("[red]error:[/] none of the pages gave an article to enrich")
            raise typer.Exit(2)
        chain(articles[0])  # first call: lazy tables and caches, as a running daemon has
        for name in chain.seconds:
            chain.seconds[name], chain.calls[name] = 0.0, 0
        enriched = []
        task = progress.add_task("enrich", total=len(articles))
        started = time.process_time()
        for article in articles:
            enriched.append(chain(article))
            progress.advance(task)
        enrich_seconds = time.process_time() - started

    n = max(1, len(articles))
    extract_ms = extract_seconds * 1000 / max(1, len(raw))
    enrich_ms = enrich_seconds * 1000 / n
    table = Table(title=f"CPU ms per article ({len(articles)} articles from {len(raw)} pages)")
    for col in ("step", "ms/article", "x extraction"):
        table.add_column(col, justify="right" if col != "step" else "left")
    table.add_row("extraction (newsflow's extractor, the baseline)", f"{extract_ms:.1f}", "1.00")
    for name, seconds in chain.seconds.items():
        ms = seconds * 1000 / n
        table.add_row(f"  {name}", f"{ms:.1f}", f"{ms / extract_ms:.2f}" if extract_ms else "-")
    table.add_row("enrichment, whole chain", f"{enrich_ms:.1f}", f"{enrich_ms / extract_ms:.2f}" if extract_ms else "-")
    out.print(table)

    languages = Counter(a.enrichment.language if a.enrichment else None for a in enriched)
    out.print("languages: " + ", ".join(f"{lang or '?'} {count}" for lang, count in languages.most_common(8)), soft_wrap=True)
    out.print(f"extraction: {extract_ms:.1f} ms/article; enrichment: {enrich_ms:.1f} ms/article; "
              f"enrichment / extraction = {enrich_ms / extract_ms if extract_ms else 0:.2f}", soft_wrap=True)

    if "keyphrases" in chain.names:
        texts = [(a.text, e.enrichment.language if e.enrichment else None) for a, e in zip(articles, enriched)]
        ours = [e.enrichment.keyphrases if e.enrichment else [] for e in enriched]
        ref = reference_yake(texts, ours, cfg.max_keyphrases)
        if ref is None:
            out.print("reference YAKE: not installed (pip install 'yake>=0.6,<1' to compare)", soft_wrap=True)
        else:
            ours_ms = chain.seconds["keyphrases"] * 1000 / n
            out.print(
                f"reference YAKE (yake): {ref.ms_per_article:.1f} ms/article; newsflow's keyphrases (yake-rust): "
                f"{ours_ms:.1f} ms/article = {ref.ms_per_article / ours_ms if ours_ms else 0:.1f}x less CPU; "
                f"same phrases {ref.phrase_overlap:.0%}, same set on {ref.same_set} of {ref.compared} articles",
                soft_wrap=True,
            )
