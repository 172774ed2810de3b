"""`newsflow bench archive`: what the raw archive costs per article, beside the poller's
per-article work without it, in the same run.

Pages: the extraction sets' real article pages (``benchmarks.corpus.load_pages``; the seed blog's
posts when the sets are absent), each with the headers a server sends. Per page, interleaved in
one process and one thread, timed in CPU seconds of that process (``time.process_time``):

* baseline: the extraction of the page (``extract_article``), the poller's own CPU work per
  article, which the archive adds to;
* archive: ``WarcArchive.write_page`` (gzip of the response and metadata records, one buffered
  append and flush) into a temporary directory, as the poller's archive thread does it;
* read back: ``read_ref`` of that record, what `newsflow reprocess` pays per page before extracting.

Bytes: the archive's compressed bytes per article beside the page's own size.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

out = Console()


def bench_archive(
    pages: int = typer.Option(200, min=1, help="Article pages (repeated over the corpus if it has fewer)."),
) -> None:
    """Archive cost per article (CPU, bytes) beside extraction without it, in the same run."""
    from benchmarks.corpus import load_pages
    from newsflow.ingest.archive_reader import read_ref
    from newsflow.ingest.archive_writer import WarcArchive
    from newsflow.ingest.config import ArchiveConfig, ExtractConfig
    from newsflow.ingest.extract.article import extract_article
    from newsflow.ingest.extract.errors import ExtractionError
    from newsflow.ingest.fetch_result import FetchResult

    corpus = load_pages(pages)
    if not corpus:
        raise typer.Exit("no pages")
    headers = httpx.Headers({"content-type": "text/html; charset=utf-8", "server": "bench", "content-encoding": "gzip",
                             "date": "Sun, 06 Dec 2026 20:00:00 GMT", "cache-control": "max-age=300"})
    settings = ExtractConfig(max_page_bytes=50_000_000)
    extract_cpu = archive_cpu = read_cpu = 0.0
    page_bytes = 0
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-archive-") as tmp:
        archive = WarcArchive(ArchiveConfig(), Path(tmp))
        # Warm-up, untimed: imports, regex compilation, the first file's open.
        first = FetchResult("https://bench.test/warm", 200, headers, corpus[0], 0.0)
        archive.write_page(first, feed_url="https://bench.test/feed", entry=None, link_id=None, fetched_at=time.time())
        try:
            extract_article(corpus[0], "https://bench.test/warm", settings=settings)
        except ExtractionError:
            pass
        written_before = sum(p.stat().st_size for p in Path(tmp).glob("*.warc.gz"))
        refs = []
        for n in range(pages):
            body = corpus[n % len(corpus)]
            url = f"https://bench.test/article-{n}.html"
            page_bytes += len(body)
            started = time.process_time()
            try:
                extract_article(body, url, settings=settings)
            except ExtractionError:
                pass
            extract_cpu += time.process_time() - started
            res = FetchResult(url, 200, headers, body, 0.0)
            started = time.process_time()
            ref = archive.write_page(res, feed_url="https://bench.test/feed", entry=None, link_id=None,
                                     fetched_at=time.time())
            archive_cpu += time.process_time() - started
            if ref is None:
                raise typer.Exit(f"the archive failed: {archive.last_error}")
            refs.append(ref)
        archive.close()
        written = sum(p.stat().st_size for p in Path(tmp).glob("*.warc.gz")) - written_before
        for ref in refs:
            started = time.process_time()
            read_ref(Path(tmp), ref)
            read_cpu += time.process_time() - started

    table = Table(title=f"raw archive: {pages} article pages ({len(corpus)} distinct)")
    table.add_column("per article")
    table.add_column("value", justify="right")
    table.add_row("baseline: extraction CPU (no archive)", f"{1000 * extract_cpu / pages:.2f} ms")
    table.add_row("archive write CPU", f"{1000 * archive_cpu / pages:.2f} ms")
    table.add_row("archive write / extraction", f"{100 * archive_cpu / extract_cpu:.1f} %" if extract_cpu else "-")
    table.add_row("archive read CPU (reprocess)", f"{1000 * read_cpu / pages:.2f} ms")
    table.add_row("page size (decoded)", f"{page_bytes / pages / 1024:.1f} KiB")
    table.add_row("archive bytes (gzip, both records)", f"{written / pages / 1024:.1f} KiB")
    table.add_row("archive per 100,000 articles", f"{written / pages * 100_000 / 2**30:.2f} GiB")
    out.print(table)
