"""`newsflow bench reprocess`: how much a reprocess running beside live polling delays live articles.

On the embedded default, in one data dir: first ``--archived`` articles are polled with the
archive on (the archive a reprocess reads). Then two live passes over feeds not polled before,
``--live`` articles each, with the same config:

1. baseline: the live pass alone;
2. the live pass while `newsflow reprocess` (a process of its own) sends the whole archive
   through extraction, enrichment and indexing on its own stream and consumer groups.

Live delay of an article: the time from its extraction (``fetched_at``) to its write in the index
(``indexed_at``), read from the SQLite index; printed as median, 95th percentile and max for both
passes, and the pass's wall time. Both passes share the machine; what the reprocess cannot do is
put its messages before live ones, since they are on topics of their own.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import typer
import tomlkit
from rich.console import Console
from rich.table import Table

out = Console()


def _delays(index_db: Path, feeds: set[str]) -> list[float]:
    db = sqlite3.connect(index_db)
    try:
        rows = db.execute("SELECT record, indexed_at FROM articles").fetchall()
    finally:
        db.close()
    delays = []
    for record, indexed_at in rows:
        rec = orjson.loads(record)
        if feeds & set(rec.get("feeds") or ()):
            delays.append(indexed_at - datetime.fromisoformat(rec["fetched_at"]).timestamp())
    return delays


def _row(table: Table, name: str, delays: list[float], seconds: float) -> None:
    q = statistics.quantiles(delays, n=20) if len(delays) >= 2 else delays * 19
    table.add_row(name, str(len(delays)), f"{statistics.median(delays):.2f}", f"{q[18]:.2f}", f"{max(delays):.2f}",
                  f"{seconds:.1f}")


def bench_reprocess(
    archived: int = typer.Option(300, min=1, help="Articles polled into the archive first (what the reprocess reads)."),
    live: int = typer.Option(100, min=1, help="Articles of each live pass."),
    enrichers: str = typer.Option("language,stats,fingerprint", help="The enrich chain of both (every enricher: all six)."),
) -> None:
    """Live article delay (extraction -> index) alone and beside a full reprocess, same run."""
    from benchmarks.corpus import build_site, serve_site
    from newsflow.pipeline.run_all import run_all
    from newsflow.settings import Settings

    per_feed = 20
    tmp = Path(tempfile.mkdtemp(prefix="newsflow-bench-reprocess-"))
    site = build_site(tmp / "site", archived + 2 * live, per_feed=per_feed)
    cut = -(-archived // per_feed)
    live_feeds = -(-live // per_feed)
    groups = [site.feeds[:cut], site.feeds[cut:cut + live_feeds], site.feeds[cut + live_feeds:cut + 2 * live_feeds]]
    with serve_site(site) as served:
        cfg = {
            "data_dir": str(tmp / "data"),
            "poller": {"per_host_delay": 0.0, "allow_addresses": ["127.0.0.1"], "host_map": served.host_map},
            "enrich": {"enrichers": enrichers.split(",")},
        }

        def settings(feeds: list[str]) -> Settings:
            return Settings(**cfg, feeds=[{"url": u} for u in feeds])

        config = tmp / "newsflow.toml"
        config.write_text(tomlkit.dumps(cfg), encoding="utf-8")
        out.print(f"archiving {archived} articles ...")
        run_all(settings(groups[0]), once=True)
        index_db = settings([]).index_db

        started = time.monotonic()
        run_all(settings(groups[1]), once=True)
        alone = time.monotonic() - started
        # Read now: the reprocess rewrites these articles (their pages are archived too).
        alone_delays = _delays(index_db, set(groups[1]))

        # Pages archived until now only: the second live pass's pages are not reprocessed.
        until = datetime.now(timezone.utc).isoformat()
        reprocess = subprocess.Popen([sys.executable, "-m", "newsflow", "reprocess", "-c", str(config), "--until", until],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        time.sleep(3.0)  # the reprocess under way (models loaded, pages flowing) before live polling starts
        started = time.monotonic()
        run_all(settings(groups[2]), once=True)
        beside = time.monotonic() - started
        beside_delays = _delays(index_db, set(groups[2]))
        still_running = reprocess.poll() is None
        output, _ = reprocess.communicate(timeout=1800)

    table = Table(title=f"live delay, extraction -> index, seconds ({enrichers})")
    for col in ("pass", "articles", "median", "p95", "max", "pass s"):
        table.add_column(col, justify="right" if col != "pass" else "left")
    _row(table, "live alone (baseline)", alone_delays, alone)
    _row(table, "live beside reprocess", beside_delays, beside)
    out.print(table)
    out.print(f"reprocess: {output.strip().splitlines()[-1] if output.strip() else '(no output)'}", highlight=False)
    out.print(f"reprocess still running when the live pass ended: {'yes' if still_running else 'no'}", highlight=False)
