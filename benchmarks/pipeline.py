"""`newsflow bench pipeline`: the whole pipeline on the real services, beside its ceiling and a naive baseline.

In one run, over the same generated corpus (``benchmarks.corpus``: real pages of the shared extraction
sets under distinct urls, RSS feeds of 20 on one loopback host per site):

1. **extraction-only ceiling**: ``ingest.extractor.extract_article`` alone over every page, in a
   process pool with one worker per core; it also gives the number of pages that have an article.
2. **naive baseline**: one process, feedparser -> httpx -> ``trafilatura.extract`` -> one
   Elasticsearch ``index`` call per article, over a sample of whole feeds; its rate is the sample's.
3. **newsflow**: the three daemons as separate processes (``python -m newsflow poll|enrich|index``
   with a generated config; ``--enrich-procs`` enrich daemons in one consumer group), on unique
   topics, consumer groups and index alias, deleted afterwards. End to end runs from the poll
   daemon's first poll (its metrics endpoint answering, sampled every 0.05 s) to the last expected
   document being searchable (``_count`` on the alias every 0.2 s, no forced refresh).
4. **CPU accounting**: the CPU of each daemon and of the local Kafka and Elasticsearch JVMs over
   the run, per article, beside the ceiling's extraction CPU per page. On shared cores their ratio
   bounds end to end / ceiling.

CPU is read from /proc for each daemon and its children (a worker pool's CPU counts for its
daemon); per-stage CPU excludes start-up (models loading) by taking the value once the daemon is
ready. The corpus server runs in its own process and is not counted as newsflow's.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from benchmarks.daemons import COUNTERS, POLITENESS_DELAY, Proc, cpu_and_hwm, exit_on_sigterm, start_daemon, stop_all, wait_metrics, write_config


out = Console()


# Markers in the command lines of the local services (deploy/local/services.sh): their CPU during
# the run is shown beside newsflow's, since on one machine they share its cores.
SERVICE_MARKERS = {"kafka": "kafka.Kafka", "elasticsearch": "EmbeddedElasticsearch"}
# Production scrapes /metrics every 15-60 s; the bench reads the counters once a second (enough for
# per-stage rates over runs of a minute or more) so that its own scraping is not a daemon's load.
SCRAPE_EVERY = 1.0
POLL_EVERY = 0.2  # /proc and the index's _count (end to end is resolved to this)


def service_pids() -> dict[str, int]:
    """Pids of the Kafka broker and Elasticsearch node running on this machine, by name."""
    found: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for name, marker in SERVICE_MARKERS.items():
            if marker in cmd and "java" in cmd:
                found.setdefault(name, int(entry))
    return found


# --- the extraction-only ceiling -----------------------------------------------------------------

_PAGES: list[bytes] = []
_SITE: Any = None


def _init_worker(articles: int, per_feed: int, hosts: int) -> None:
    global _PAGES, _SITE
    from benchmarks.corpus import ArticleSite, load_pages

    _PAGES, _SITE = load_pages(limit=articles), ArticleSite(articles, per_feed, hosts)


def _extract_range(ns: range) -> tuple[list[int], float, int]:
    """(the page numbers without an article, CPU seconds, how many distinct pages there are)."""
    from newsflow.ingest.extract.article import extract_article

    failed, started = [], time.process_time()
    for n in ns:
        try:
            extract_article(_SITE.page(_PAGES, n), _SITE.article_url(n))
        except Exception:
            failed.append(n)
    return failed, time.process_time() - started, len(_PAGES)


def extraction_ceiling(articles: int, per_feed: int, hosts: int, workers: int, sample: int = 0) -> tuple[list[int], int, float, float, int]:
    """(the numbers of the articles whose page has an article, how many of the pages timed have one,
    wall seconds, CPU seconds, pages timed) for the
    extractor alone on ``workers`` processes, timed over the first ``sample`` pages (0: all).

    Article ``n`` is distinct page ``n % P`` under its own url, so one pass over the P distinct
    pages tells which of all N have an article: a 50,000-article run need not extract them all twice.
    """
    timed = min(articles, sample) if sample else articles
    chunks = [range(i, min(timed, i + 10)) for i in range(0, timed, 10)]
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(articles, per_feed, hosts)) as pool:
        list(pool.map(_init_noop, range(workers)))  # start-up (imports, page loading) is not extraction
        started = time.perf_counter()
        results = list(pool.map(_extract_range, chunks))
        wall = time.perf_counter() - started
        distinct = results[0][2] if results else 1
        rest = range(timed, min(articles, distinct))  # distinct pages the sample did not reach (untimed)
        results += list(pool.map(_extract_range, [rest])) if len(rest) else []
    failed = {n % distinct for r in results for n in r[0]}
    with_article = [n for n in range(articles) if n % distinct not in failed]
    ok_timed = timed - sum(len(r[0]) for r in results[: len(chunks)])
    return with_article, ok_timed, wall, sum(r[1] for r in results[: len(chunks)]), timed


def pages_with_article(articles: int, per_feed: int, hosts: int, workers: int) -> list[int]:
    """The numbers of the corpus's articles whose page has an article: what the pipeline must index."""
    return extraction_ceiling(articles, per_feed, hosts, workers, sample=1)[0]


def _init_noop(_: int) -> None:
    from newsflow.ingest.extract.article import extract_article  # noqa: F401

    time.sleep(0.2)  # every worker gets one


# --- the naive baseline ----------------------------------------------------------------------------


def naive_baseline(site: Any, port: int, feeds: list[int], es_url: str, index_name: str) -> tuple[int, float]:
    """feedparser -> httpx -> trafilatura.extract -> es.index, one article at a time. (articles, seconds)."""
    import feedparser
    import httpx
    import trafilatura
    from elasticsearch import Elasticsearch

    from benchmarks.corpus import host_map

    physical = host_map(site.hosts, port)

    def real(url: str) -> str:
        origin = url.split("/", 3)
        return physical["/".join(origin[:3])] + "/" + origin[3]

    es = Elasticsearch(es_url)
    n = 0
    started = time.perf_counter()
    with httpx.Client() as http:
        for k in feeds:
            parsed = feedparser.parse(http.get(real(site.feed_url(k))).content)
            for entry in parsed.entries:
                page = http.get(real(entry.link)).text
                text = trafilatura.extract(page, url=entry.link)
                if text:
                    doc = {"url": entry.link, "title": entry.get("title"), "text": text}
                    for attempt in range(3):  # other users of the local node may restart it
                        try:
                            es.index(index=index_name, id=entry.link, document=doc)
                            break
                        except Exception:
                            if attempt == 2:
                                raise
                            wait_es(es)
                    n += 1
    wall = time.perf_counter() - started
    es.options(ignore_status=404).indices.delete(index=index_name)
    es.close()
    return n, wall


def wait_es(es: Any, timeout: float = 180.0) -> None:
    """Wait for the Elasticsearch node to answer (tests elsewhere on this machine may restart it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if es.ping():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Elasticsearch did not answer within {timeout:.0f}s")
        time.sleep(1.0)


# --- the pipeline ------------------------------------------------------------------------------------


@dataclass
class PipelineResult:
    indexed: int
    seconds: float
    procs: list[Proc]
    complete: bool
    services_cpu: dict[str, float | None] = field(default_factory=dict)  # CPU s, first poll to end; None: restarted


def run_pipeline(config: Path, log_dir: Path, expected: int, enrich_procs: int, es: Any, alias: str,
                 stall: float, progress: Any, poll_procs: int = 1, data_dir: Path | None = None) -> PipelineResult:
    consumers = [start_daemon(f"enrich-{i + 1}" if enrich_procs > 1 else "enrich", "enrich", config, log_dir) for i in range(enrich_procs)]
    consumers.append(start_daemon("index", "index", config, log_dir))
    procs = list(consumers)
    try:
        wait_metrics(consumers)
        time.sleep(2.0)  # let the consumers join their groups and settle (not timed)
        for p in consumers:
            p.sample()
            p.cpu_ready = p.cpu_total
        pollers = []
        for i in range(poll_procs):  # shards of one feed list (poller.shard), each with its own state
            env = {} if poll_procs == 1 else {"NEWSFLOW_POLLER__SHARD": f"{i}/{poll_procs}",
                                              "NEWSFLOW_DATA_DIR": str((data_dir or log_dir) / f"poll-{i}")}
            pollers.append(start_daemon("poll" if poll_procs == 1 else f"poll-{i + 1}", "poll", config, log_dir, env))
        procs[:0] = pollers
        t0 = None
        while t0 is None:  # a poller's metrics endpoint opens as it starts polling
            for poll in pollers:
                if poll.popen.poll() is not None:
                    raise RuntimeError(f"{poll.name} exited with {poll.popen.returncode} at start-up (see its log)")
                if t0 is None and poll.metrics() is not None:
                    t0 = time.perf_counter()
            time.sleep(0.05)
        for poll in pollers:
            poll.sample()
            poll.cpu_ready = poll.cpu_total
        services = {name: (pid, cpu_and_hwm(pid)[0]) for name, pid in service_pids().items()}
        task = progress.add_task("pipeline", total=expected) if progress is not None else None
        indexed, moved, done = 0, time.perf_counter(), None
        while True:
            now = time.perf_counter()
            for p in procs:
                p.sample()
                if now - p.scraped < SCRAPE_EVERY:
                    continue
                p.scraped = now
                m = p.metrics()
                stage = p.stage
                if m is not None and m.get(COUNTERS[stage], 0.0) > p.count:
                    p.count = m[COUNTERS[stage]]
                    p.first = p.first or now
                    p.last = now
            try:
                count = int(es.count(index=alias)["count"])
            except Exception:
                count = indexed
            if count > indexed:
                indexed, moved = count, now
            if progress is not None:
                progress.update(task, completed=indexed)
            if indexed >= expected:
                done = now
                break
            if now - moved > stall:
                break
            for p in procs:
                if p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited with {p.popen.returncode} (see its log)")
            time.sleep(POLL_EVERY)
        end = done or moved
        # A service restarted under the run (another pid now) has no CPU figure for it.
        alive = service_pids()
        services_cpu = {name: (cpu_and_hwm(pid)[0] - cpu0 if alive.get(name) == pid else None)
                        for name, (pid, cpu0) in services.items()}
        for p in procs:  # final samples of the counters (the last index batch may have been counted late)
            m = p.metrics()
            if m is not None:
                p.count = max(p.count, m.get(COUNTERS[p.stage], 0.0))
            p.sample()
        return PipelineResult(indexed, end - t0, procs, done is not None, services_cpu)
    finally:
        stop_all(procs)


@dataclass
class Drain:
    label: str
    articles: int
    seconds: float
    cpu_ms: float
    rss_mb: list[float]


def drain_enrich(config: Path, log_dir: Path, run: str, daemons: int, workers: int, expected: int, stall: float) -> Drain:
    """A fresh consumer group of ``daemons`` enrich daemons (``enrich.workers`` each) drains the
    cleaned topic the pipeline filled; output goes to a scratch topic. Rate from the first
    article to the last."""
    label = f"{daemons} daemon(s) x {workers} worker(s)"
    env = {"NEWSFLOW_BUS__GROUP_PREFIX": f"bench-{run}-drain-{daemons}x{workers}",
           "NEWSFLOW_BUS__TOPICS__ENRICHED": f"bench-{run}.scratch", "NEWSFLOW_ENRICH__WORKERS": str(workers)}
    procs = [start_daemon(f"drain-{daemons}x{workers}-{i}", "enrich", config, log_dir, env) for i in range(daemons)]
    try:
        wait_metrics(procs)
        for p in procs:
            p.sample()
            p.cpu_ready = p.cpu_total
        moved = time.perf_counter()
        first = last = None
        total = 0.0
        while total < expected and time.perf_counter() - moved < stall:
            now = time.perf_counter()
            counts = []
            for p in procs:
                p.sample()
                m = p.metrics()
                counts.append(m.get(COUNTERS["enrich"], 0.0) if m else 0.0)
            if sum(counts) > total:
                total, moved, last = sum(counts), now, now
                first = first or now
            time.sleep(0.5)  # each read is a scrape of every daemon; rates need no finer step
        for p in procs:
            p.sample()
        seconds = (last - first) if first and last and last > first else 0.0
        cpu = sum(p.cpu_total - p.cpu_ready for p in procs)
        rss = [kb / 1024 for p in procs for kb in p.hwm.values()]
        if total < expected:
            label += f" (stalled at {total:.0f} of {expected})"
        return Drain(label, int(total), seconds, 1000 * cpu / total if total else 0.0, rss)
    finally:
        stop_all(procs)


def _cleanup(config: Path, run: str, drains: list[str]) -> None:
    from newsflow.index.elastic import ElasticIndex
    from newsflow.settings import load
    from newsflow.pipeline.backends import group, topic_partitions

    s = load(config)
    try:
        ElasticIndex(s.index.elasticsearch).destroy()
    except Exception as exc:  # a leftover index is a nuisance, not a failed benchmark
        out.print(f"note: could not delete the bench index: {exc}", highlight=False)
    if s.bus.backend == "kafka":
        from newsflow.bus.kafka import KafkaBroker
        from kafka import KafkaAdminClient

        KafkaBroker(s.bus).delete_topics([*topic_partitions(s), f"bench-{run}.scratch"])
        try:
            admin = KafkaAdminClient(bootstrap_servers=s.bus.kafka.bootstrap_servers)
            admin.delete_groups([group(s, "enrich"), group(s, "index"), *drains])  # kafka-python 3 name
            admin.close()
        except Exception:
            pass


def bench_pipeline(
    articles: int = typer.Option(2000, min=1, help="Articles in the generated corpus."),
    backend: str = typer.Option("kafka", help="The bus: kafka or local (the index is always Elasticsearch)."),
    poll_procs: int = typer.Option(1, min=1, help="Poll daemons, each taking one shard of the feeds (poller.shard i/N)."),
    enrich_procs: int = typer.Option(1, min=1, help="Enrich daemons in one consumer group."),
    enrich_workers: int = typer.Option(1, min=1, help="enrich.workers of each enrich daemon."),
    partitions: int = typer.Option(4, min=1, help="Partitions of the cleaned and enriched topics."),
    scaling: str = typer.Option("", help="After the pipeline: enrich drain rates of the cleaned topic by fresh groups, "
                                "e.g. '1x1,2x1,1x2' (daemons x enrich.workers each). Kafka only."),
    enrichers: str = typer.Option(None, help="enrich.enrichers, comma-separated (default: the config default, all of them)."),
    naive_sample: int = typer.Option(100, min=0, help="Articles for the naive baseline (whole feeds of 20)."),
    ceiling_workers: int = typer.Option(os.cpu_count() or 1, min=1, help="Processes for the extraction-only ceiling."),
    ceiling_sample: int = typer.Option(0, min=0, help="Time the ceiling over the first N pages only (0: all), for long runs."),
    stall: float = typer.Option(60.0, help="Give up after this many seconds without a new document."),
    keep: bool = typer.Option(False, help="Keep the topics, groups and index afterwards."),
) -> None:
    """The pipeline (poll, enrich, index daemons on Kafka and Elasticsearch) over a generated corpus,
    beside the extraction-only ceiling and a naive baseline, all measured in this run."""
    from contextlib import nullcontext

    # A SIGTERM (an operator stopping a long run) unwinds like Ctrl-C, so the daemons are stopped
    # and the bench's topics and index deleted instead of left running.
    signal.signal(signal.SIGTERM, exit_on_sigterm)

    from elasticsearch import Elasticsearch
    from rich.progress import Progress

    from benchmarks.corpus import ArticleSite, ServerProcess

    if backend not in ("kafka", "local"):
        raise typer.BadParameter("kafka or local", param_hint="--backend")
    per_feed = 20
    site = ArticleSite(articles, per_feed, hosts=min(100, -(-articles // per_feed)))
    run = uuid.uuid4().hex[:8]
    load_start = os.getloadavg()[0]
    tty = sys.stdout.isatty()

    out.print(f"corpus: {articles} articles in {site.n_feeds} feeds on {site.hosts} hosts; run id {run}", highlight=False)
    floor = -(-site.n_feeds // site.hosts) * per_feed * POLITENESS_DELAY
    out.print(f"politeness (per_host_delay {POLITENESS_DELAY}s, one request at a time per host) alone needs >= {floor:.0f}s: "
              f"at most {articles / floor:.0f} articles/s", highlight=False)
    out.print(f"newsflow: {poll_procs} poll daemon(s), {enrich_procs} enrich daemon(s) x enrich.workers {enrich_workers}, {partitions} partitions, "
              f"bus {backend}, enrichers {enrichers or 'all'}", highlight=False)
    with_article, ok_timed, c_wall, c_cpu, timed = extraction_ceiling(articles, per_feed, site.hosts, ceiling_workers, ceiling_sample)
    expected = len(with_article)
    ceiling = ok_timed / c_wall
    out.print(f"extraction-only ceiling: {ceiling:.1f} articles/s on {ceiling_workers} processes, timed over {timed} pages "
              f"({expected} of {articles} pages have an article; {1000 * c_cpu / timed:.1f} ms CPU per page)", highlight=False)

    with tempfile.TemporaryDirectory(prefix="newsflow-bench-pipeline-") as tmp, \
            ServerProcess(articles=articles, per_feed=per_feed, hosts=site.hosts) as server:
        tmpdir = Path(tmp)
        from newsflow.settings import Settings

        es_url = Settings().index.elasticsearch.hosts[0]  # the default node, or NEWSFLOW_INDEX__ELASTICSEARCH__HOSTS
        es = Elasticsearch(es_url)
        wait_es(es)
        naive_n, naive_s = 0, 0.0
        if naive_sample:
            feeds = max(1, min(site.n_feeds, naive_sample // per_feed))
            step = site.n_feeds / feeds  # whole feeds spread over the corpus, so the same mix of pages
            naive_n, naive_s = naive_baseline(site, server.port, [int(i * step) for i in range(feeds)], es_url, f"bench-{run}-naive")
        naive = naive_n / naive_s if naive_s else 0.0
        if naive_sample:
            out.print(f"naive baseline: {naive:.1f} articles/s ({naive_n} articles in {naive_s:.1f}s, one process; "
                      f"{articles} would take {articles / naive if naive else 0:.0f}s)", highlight=False)

        config = tmpdir / "bench.toml"
        write_config(config, run, site, server.port, backend, tmpdir / "data", enrich_workers, partitions,
                [e.strip() for e in enrichers.split(",") if e.strip()] if enrichers is not None else None)
        alias = f"bench-{run}-articles"
        ctx = Progress(console=out, transient=True) if tty else nullcontext()
        wait_es(es)
        try:
            with ctx as progress:
                result = run_pipeline(config, tmpdir, expected, enrich_procs, es, alias, stall, progress,
                                      poll_procs, tmpdir / "data")
            drains = []
            for spec in [x for x in scaling.split(",") if x.strip()] if backend == "kafka" else []:
                d, w = (int(v) for v in spec.strip().split("x"))
                drains.append(drain_enrich(config, tmpdir, run, d, w, expected, stall))
        except RuntimeError as exc:
            for log in sorted(tmpdir.glob("*.log")):
                out.print(f"--- {log.name} (tail)", highlight=False)
                out.print(log.read_text(errors="replace")[-2000:], highlight=False, markup=False)
            out.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from exc
        finally:
            es.close()
            if not keep:
                specs = [x.strip() for x in scaling.split(",") if x.strip()]
                _cleanup(config, run, [f"bench-{run}-drain-{x}-enrich" for x in specs])

    e2e = result.indexed / result.seconds if result.seconds else 0.0
    table = Table("stage", "articles", "articles/s", "CPU ms/article", "peak RSS MB (processes)")
    for p in result.procs:
        span = (p.last - p.first) if p.first and p.last and p.last > p.first else 0.0
        rate = f"{p.count / span:.1f}" if span else "-"
        cpu_ms = f"{1000 * (p.cpu_total - p.cpu_ready) / p.count:.1f}" if p.count else "-"
        rss = " + ".join(f"{kb / 1024:.0f}" for kb in p.hwm.values())
        table.add_row(p.name, f"{p.count:.0f}", rate, cpu_ms, rss)
    for name, cpu in result.services_cpu.items():
        shown = "restarted" if cpu is None else f"{1000 * cpu / result.indexed:.1f}" if result.indexed else "-"
        table.add_row(f"({name})", "-", "-", shown, "-")
    out.print(table)
    status = "" if result.complete else f" (INCOMPLETE: stalled at {result.indexed} of {expected})"
    out.print(f"end to end: {e2e:.1f} articles/s ({result.indexed} searchable in {result.seconds:.1f}s, first poll to last document){status}", highlight=False)
    out.print(f"extraction-only ceiling: {ceiling:.1f} articles/s; end to end / ceiling = {e2e / ceiling:.2f}", highlight=False)
    if result.indexed:
        ours = sum(p.cpu_total - p.cpu_ready for p in result.procs) / result.indexed
        theirs = sum(c for c in result.services_cpu.values() if c is not None) / result.indexed
        page = c_cpu / timed
        out.print(f"CPU per article: newsflow {1000 * ours:.1f} ms + services {1000 * theirs:.1f} ms = "
                  f"{1000 * (ours + theirs):.1f} ms; the ceiling's extraction {1000 * page:.1f} ms: "
                  f"end to end / ceiling <= {page / (ours + theirs):.2f} on shared cores", highlight=False)
    if naive:
        out.print(f"naive baseline: {naive:.1f} articles/s; end to end / naive = {e2e / naive:.1f}x", highlight=False)
    if drains:
        base = drains[0]
        dt = Table("enrich drain of the backlog", "articles", "articles/s", "x first", "CPU ms/article", "peak RSS MB")
        for d in drains:
            rate = d.articles / d.seconds if d.seconds else 0.0
            first = base.articles / base.seconds if base.seconds else 0.0
            dt.add_row(d.label, str(d.articles), f"{rate:.1f}", f"{rate / first:.2f}" if first else "-", f"{d.cpu_ms:.1f}",
                       " + ".join(f"{r:.0f}" for r in d.rss_mb))
        out.print(dt)
    if server.rusage is not None:
        out.print(f"corpus server (not newsflow): {server.rusage.ru_utime + server.rusage.ru_stime:.1f}s CPU", highlight=False)
    out.print(f"bench process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", highlight=False)
    out.print(f"load average at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "(other work on the machine slows every figure alike; compare ratios)", highlight=False)
