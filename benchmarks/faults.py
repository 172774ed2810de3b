"""`newsflow bench faults`: fault drills on the bench's own Kafka broker and Elasticsearch node,
beside an undisturbed run of the same corpus in the same invocation.

The services are started for the bench alone (``benchmarks.private_services``: a temp folder,
free ports) and stopped at the end, on an error or Ctrl-C too: the drills kill them, and the shared
ones on 9092/9200 are never touched. The corpus is ``bench pipeline``'s (``benchmarks.corpus``),
served by its own process; the daemons are ``python -m newsflow poll|enrich|index``
(``benchmarks.daemons``) with static group membership, as the systemd units run them. Each drill
(``benchmarks.fault_drills``) is a fresh pipeline with its own topics, groups and alias
(``benchmarks.fault_run``), and prints:

* served: the corpus's articles whose page has an article (one extraction of each page, here);
* indexed, lost (served, not in the index at the end), duplicated (one article as two or more
  documents), rewritten (documents written more than once: redelivery, which the stable id absorbs),
  dead letters (records on the dead-letter topic);
* down: from the fault to its being cleared (service answering again, daemon started again);
* recovery per stage: from the fault being cleared to the stage's next progress;
* the verdict against issue 15: nothing lost or duplicated, only the expected dead letters, every
  stage moving again within RECOVERY_TARGET s.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from benchmarks.daemons import exit_on_sigterm
from benchmarks.fault_drills import BASELINE, DRILLS, Drill
from benchmarks.fault_run import STAGES, Bench, DrillResult, Run, tally, watch

err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
out = Console(width=None if sys.stdout.isatty() else 200)  # the table unwrapped in a file or a pipe
CHEAP = ["language", "stats", "fingerprint"]  # the cheap enrichers of docs/performance.md
RECOVERY_TARGET = 15.0  # issue 15: every stage moving again within 15 s of its fault being cleared
PER_FEED = 20


def bench_faults(
    articles: int = typer.Option(600, min=10, help="Articles in the generated corpus."),
    drills: str = typer.Option(",".join(DRILLS), help=f"Drills, comma-separated ({', '.join(DRILLS)}); "
                               "the undisturbed run always runs first."),
    outage: float = typer.Option(30.0, min=0, help="Seconds a killed broker or node stays down before it is started again."),
    enrichers: str = typer.Option("cheap", help="enrich.enrichers: cheap (language, stats, fingerprint), all, or a comma-separated list."),
    settle: float = typer.Option(60.0, min=1, help="Once the fault is cleared, stop waiting for missing articles after this "
                                 "many seconds without a new document."),
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
    logs: Path = typer.Option(None, help="Keep the daemons' and the services' logs and data in this folder "
                              "(default: a temp folder, deleted)."),
) -> None:
    """Fault drills (broker and Elasticsearch SIGKILL, daemon SIGKILL and SIGTERM, a poisoned bulk) on
    private Kafka and Elasticsearch, beside an undisturbed run: lost, duplicated, dead letters, recovery."""
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    chosen = [d.strip() for d in drills.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DRILLS]
    if unknown:
        raise typer.BadParameter(f"unknown drill(s) {', '.join(unknown)}; known: {', '.join(DRILLS)}", param_hint="--drills")
    enricher_list = None if enrichers == "all" else CHEAP if enrichers == "cheap" else \
        [e.strip() for e in enrichers.split(",") if e.strip()]
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-faults-") as tmp:
        root = Path(tmp) if logs is None else logs / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        try:
            results, meta = _run(root, articles, [BASELINE, *(DRILLS[d] for d in chosen)], outage, settle, enricher_list)
        except RuntimeError as exc:  # a daemon or a service did not start: its log says why
            err.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from exc
        meta.update(enrichers=enrichers, outage=outage, settle=settle)
        report = json.dumps({**meta, "drills": [{**asdict(r), "verdict": _verdict(r)} for r in results]}, indent=2)
        if logs is not None:
            (root / "results.json").write_text(report)
    if json_output:
        print(report)
    else:
        _print(results, meta)


def _run(root: Path, articles: int, drills: list[Drill], outage: float, settle: float,
         enrichers: list[str] | None) -> tuple[list[DrillResult], dict[str, Any]]:
    from elasticsearch import Elasticsearch

    from benchmarks.corpus import ArticleSite, ServerProcess
    from benchmarks.pipeline import pages_with_article
    from benchmarks.private_services import PrivateServices
    from newsflow.core.record import article_id
    from newsflow.ingest.urls import canonical_url

    site = ArticleSite(articles, PER_FEED, hosts=min(100, -(-articles // PER_FEED)))
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": " ".join(["newsflow", *sys.argv[1:]]),
            "cores": os.cpu_count(), "memory_gb": _memory_gb(), "load_start": os.getloadavg()[0], "articles": articles}
    err.print(f"corpus: {articles} articles in {site.n_feeds} feeds on {site.hosts} hosts; finding the pages with an article",
              highlight=False)
    numbers = pages_with_article(articles, PER_FEED, site.hosts, os.cpu_count() or 1)
    expected = {article_id(canonical_url(site.article_url(n))) for n in numbers}
    err.print(f"starting the bench's own Kafka and Elasticsearch (in {root / 'services'})", highlight=False)
    results = []
    with PrivateServices(root / "services") as services, \
            ServerProcess(articles=articles, per_feed=PER_FEED, hosts=site.hosts) as server:
        meta["services"] = {"kafka": services.bootstrap, "elasticsearch": services.es_url,
                            "start_up_seconds": dict(services.started)}
        bench = Bench(services, site, server.port, expected, enrichers, outage, settle, root)
        es = Elasticsearch(services.es_url, request_timeout=5, max_retries=0)
        try:
            for drill in drills:
                err.print(f"{drill.name}: {drill.summary}", highlight=False, markup=False)
                results.append(_drill(bench, drill, es))
                _line(results[-1])
        finally:
            es.close()
    meta["load_end"] = os.getloadavg()[0]
    return results, meta


def _drill(bench: Bench, drill: Drill, es: Any) -> DrillResult:
    run = Run(bench, drill.name)
    try:
        watched = watch(run, drill.trigger, drill.fault, drill.hold, es)
        result = tally(run, drill.summary, watched, es.options(request_timeout=30))
    except RuntimeError as exc:
        for log in sorted(run.dir.glob("*.log")):
            err.print(f"--- {log} (tail)", highlight=False)
            err.print(log.read_text(errors="replace")[-2000:], highlight=False, markup=False)
        raise RuntimeError(f"{drill.name}: {exc}") from exc
    finally:
        run.close()
    if drill.report is not None:
        result.notes.extend(drill.report(run))
    result.expected_dead_letters = drill.dead_letters
    return result


def _verdict(r: DrillResult) -> str:
    """"ok", or what misses issue 15's bar."""
    misses = list(r.troubles)
    if r.lost:
        misses.append(f"lost {r.lost}")
    if r.duplicated:
        misses.append(f"duplicated {r.duplicated}")
    if r.dead_letters != r.expected_dead_letters:
        misses.append(f"dead letters {r.dead_letters} (expected {r.expected_dead_letters})")
    for stage, seconds in r.recovery.items():
        if seconds is None and not r.idle[stage]:
            misses.append(f"{stage} stuck")
        elif seconds is not None and seconds > RECOVERY_TARGET:
            misses.append(f"{stage} {seconds:.0f} s")
    return "ok" if not misses else "; ".join(misses)


def _recovery(r: DrillResult, stage: str) -> str:
    if stage not in r.recovery:
        return "-"
    seconds = r.recovery[stage]
    return f"{seconds:.1f}" if seconds is not None else "idle" if r.idle[stage] else "stuck"


def _line(r: DrillResult) -> None:
    err.print(f"  -> indexed {r.indexed} of {r.served}, lost {r.lost}, duplicated {r.duplicated}, dead letters {r.dead_letters}, "
              f"recovery {', '.join(f'{s} {_recovery(r, s)}' for s in STAGES)}: {_verdict(r)}", highlight=False)


def _print(results: list[DrillResult], meta: dict[str, Any]) -> None:
    out.print(f"{meta['date']}: {meta['command']}", highlight=False)
    out.print(f"machine: {meta['cores']} cores, {meta['memory_gb']:.0f} GB; load {meta['load_start']:.1f} at start, "
              f"{meta['load_end']:.1f} at end; enrichers {meta['enrichers']}; outage {meta['outage']:.0f} s; "
              f"private Kafka {meta['services']['kafka']}, Elasticsearch {meta['services']['elasticsearch']}", highlight=False)
    table = Table("drill", "down s", "served", "indexed", "lost", "duplicated", "rewritten", "dead letters",
                  "recovery s poll · enrich · index", "first poll → last doc s", "verdict")
    for r in results:
        table.add_row(r.drill, f"{r.down:.1f}" if r.down is not None else "-", str(r.served), str(r.indexed), str(r.lost),
                      str(r.duplicated), str(r.rewritten), f"{r.dead_letters}" + (f" (of {r.expected_dead_letters})" if r.expected_dead_letters else ""),
                      " · ".join(_recovery(r, s) for s in STAGES), f"{r.seconds:.1f}" + ("" if r.complete else " (stalled)"),
                      _verdict(r))
    out.print(table)
    for r in results:
        notes = [*r.notes, *(f"restarted {stage} answered {s:.1f} s after its start" for stage, s in r.restart_seconds.items())]
        if r.fault_utc:
            notes.append(f"fault at {r.fault_utc[0]}, cleared at {r.fault_utc[1]}")
        for note in notes:
            out.print(f"{r.drill}: {note}", highlight=False, markup=False)
    out.print(f"recovery: from the fault cleared (service answering again, daemon started again) to the stage's counter "
              f"rising; idle: nothing left for that stage; target {RECOVERY_TARGET:.0f} s", highlight=False)


def _memory_gb() -> float:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024 / 1024
