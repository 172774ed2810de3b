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
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


out = Console()
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLITENESS_DELAY = 0.5  # poller.per_host_delay of the generated config
COUNTERS = {"poll": "newsflow_articles_extracted_total", "enrich": "newsflow_articles_enriched_total", "index": "newsflow_articles_indexed_total"}


# --- /proc: CPU and memory of a process and its children ---------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def _cpu_and_hwm(pid: int) -> tuple[float, int]:
    """(user+system seconds, peak RSS KB) of one process; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        return (int(fields[11]) + int(fields[12])) / CLK_TCK, hwm
    except (OSError, IndexError, ValueError):
        return 0.0, 0


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


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    metrics_port: int
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> last CPU seen (the tree's processes)
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS KB
    cpu_ready: float = 0.0
    count: float = 0.0
    first: float | None = None  # when its counter first moved
    last: float | None = None  # when its counter last moved
    scraped: float = 0.0  # when its metrics were last read

    def sample(self) -> None:
        for pid in [self.popen.pid, *_children(self.popen.pid)]:
            cpu, hwm = _cpu_and_hwm(pid)
            if cpu:
                self.cpu[pid] = max(cpu, self.cpu.get(pid, 0.0))
                self.hwm[pid] = max(hwm, self.hwm.get(pid, 0))

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    def metrics(self) -> dict[str, float] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name.split("{", 1)[0]] = values.get(name.split("{", 1)[0], 0.0) + float(value)
        return values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def extraction_ceiling(articles: int, per_feed: int, hosts: int, workers: int, sample: int = 0) -> tuple[int, int, float, float, int]:
    """(pages with an article among all ``articles``, the same among the pages timed, wall seconds,
    CPU seconds, pages timed) for the
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
    with_article = sum(1 for n in range(articles) if n % distinct not in failed)
    ok_timed = timed - sum(len(r[0]) for r in results[: len(chunks)])
    return with_article, ok_timed, wall, sum(r[1] for r in results[: len(chunks)]), timed


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


def _config(path: Path, run: str, site: Any, port: int, backend: str, data_dir: Path, enrich_workers: int, partitions: int,
            enrichers: list[str] | None) -> None:
    import tomlkit

    from benchmarks.corpus import host_map

    doc = {
        "data_dir": str(data_dir),
        "feeds": [{"url": u} for u in site.feed_urls()],
        "poller": {"allow_addresses": ["127.0.0.0/8"], "host_map": host_map(site.hosts, port), "per_host_delay": POLITENESS_DELAY, "per_host_concurrency": 1,
                   "concurrency": 128, "max_entries_per_poll": max(200, site.per_feed)},
        "enrich": {"workers": enrich_workers, **({"enrichers": enrichers} if enrichers is not None else {})},
        "bus": {"backend": backend, "group_prefix": f"bench-{run}",
                "topics": {"cleaned": f"bench-{run}.cleaned", "enriched": f"bench-{run}.enriched",
                           "dead_letters": f"bench-{run}.dead-letters", "partitions": partitions}},
        "index": {"backend": "elasticsearch",
                  "elasticsearch": {"alias": f"bench-{run}-articles", "feed_status_index": f"bench-{run}-feed-status"}},
        "daemon": {"log_format": "json", "log_level": "WARNING", "shutdown_timeout": 10.0},
    }
    path.write_text(tomlkit.dumps(doc))


def _start(name: str, stage: str, config: Path, log_dir: Path, env_extra: dict[str, str] | None = None) -> Proc:
    port = _free_port()
    env = {**os.environ, "NEWSFLOW_DAEMON__METRICS_PORT": str(port), **(env_extra or {})}
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
    log = open(log_dir / f"{name}.log", "wb")
    popen = subprocess.Popen([sys.executable, "-m", "newsflow", stage, "--config", str(config)], env=env, cwd=repo,
                             stdout=log, stderr=subprocess.STDOUT)
    return Proc(name, popen, port)


def _wait_ready(procs: list[Proc], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        while p.metrics() is None:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode} at start-up (see its log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{p.name} did not start within {timeout:.0f}s")
            time.sleep(0.1)


@dataclass
class PipelineResult:
    indexed: int
    seconds: float
    procs: list[Proc]
    complete: bool
    services_cpu: dict[str, float | None] = field(default_factory=dict)  # CPU s, first poll to end; None: restarted


def run_pipeline(config: Path, log_dir: Path, expected: int, enrich_procs: int, es: Any, alias: str,
                 stall: float, progress: Any, poll_procs: int = 1, data_dir: Path | None = None) -> PipelineResult:
    consumers = [_start(f"enrich-{i + 1}" if enrich_procs > 1 else "enrich", "enrich", config, log_dir) for i in range(enrich_procs)]
    consumers.append(_start("index", "index", config, log_dir))
    procs = list(consumers)
    try:
        _wait_ready(consumers)
        time.sleep(2.0)  # let the consumers join their groups and settle (not timed)
        for p in consumers:
            p.sample()
            p.cpu_ready = p.cpu_total
        pollers = []
        for i in range(poll_procs):  # shards of one feed list (poller.shard), each with its own state
            env = {} if poll_procs == 1 else {"NEWSFLOW_POLLER__SHARD": f"{i}/{poll_procs}",
                                              "NEWSFLOW_DATA_DIR": str((data_dir or log_dir) / f"poll-{i}")}
            pollers.append(_start("poll" if poll_procs == 1 else f"poll-{i + 1}", "poll", config, log_dir, env))
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
        services = {name: (pid, _cpu_and_hwm(pid)[0]) for name, pid in service_pids().items()}
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
                stage = p.name.split("-")[0]
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
        services_cpu = {name: (_cpu_and_hwm(pid)[0] - cpu0 if alive.get(name) == pid else None)
                        for name, (pid, cpu0) in services.items()}
        for p in procs:  # final samples of the counters (the last index batch may have been counted late)
            m = p.metrics()
            if m is not None:
                p.count = max(p.count, m.get(COUNTERS[p.name.split("-")[0]], 0.0))
            p.sample()
        return PipelineResult(indexed, end - t0, procs, done is not None, services_cpu)
    finally:
        _stop_all(procs)


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
    procs = [_start(f"drain-{daemons}x{workers}-{i}", "enrich", config, log_dir, env) for i in range(daemons)]
    try:
        _wait_ready(procs)
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
        _stop_all(procs)


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
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

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
    expected, ok_timed, c_wall, c_cpu, timed = extraction_ceiling(articles, per_feed, site.hosts, ceiling_workers, ceiling_sample)
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
        _config(config, run, site, server.port, backend, tmpdir / "data", enrich_workers, partitions,
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


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _stop_all(procs: list[Any]) -> None:
    """SIGTERM every stage process (they drain and commit), then wait; kill what outlives 30 s."""
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(30)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()
