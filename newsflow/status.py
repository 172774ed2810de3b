"""`newsflow status`: feed health, topic lag per consumer group, dead letters and index counts.

Each section is read on its own: when a service is down, its section reports the error and
the others still print (the exit code is then 1). Works on either bus and either index; it
creates nothing (no topics, index or state file) as a side effect.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table

from newsflow.daemon import logs
from newsflow.cli import ConfigOpt, _settings, app, err, out
from newsflow.settings import Settings
from newsflow.pipeline.backends import group

# The stage groups and the topic each consumes.
STAGES = (("enrich", "cleaned"), ("index", "enriched"))


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


# -- the sections (pure reads) -------------------------------------------------------------------


def feed_health(settings: Settings) -> list[dict[str, Any]]:
    """Configured feeds (in config order) with their poll state, then feeds only the store knows."""
    from newsflow.ingest.feedstate import STATUS_NEW, FeedStateStore

    states = {}
    if settings.state_db.exists():
        store = FeedStateStore(settings.state_db)
        try:
            states = {st.url: st for st in store.all()}
        finally:
            store.close()
    names = {f.url: f.name for f in settings.feeds}
    urls = list(names) + [u for u in states if u not in names]
    rows = []
    for url in urls:
        st = states.get(url)
        rows.append(
            {
                "url": url,
                "name": names.get(url) or (st.title if st else None),
                "configured": url in names,
                "status": st.status if st else STATUS_NEW,
                "last_success": _iso(st.last_success) if st else None,
                "last_error": st.last_error if st else None,
                "last_error_kind": st.last_error_kind if st else None,
                "consecutive_failures": st.consecutive_errors if st else 0,
                "next_poll": _iso(st.next_poll) if st else None,
                "items_per_day": round(st.items_per_day, 2) if st and st.items_per_day is not None else None,
                "moved_to": st.moved_to if st else None,
            }
        )
    return rows


def topic_lag(settings: Settings) -> list[dict[str, Any]]:
    """Per stage group and partition of the topic it consumes: messages not committed yet."""
    topics = settings.bus.topics
    rows = []
    for stage, attr in STAGES:
        grp, topic = group(settings, stage), getattr(topics, attr)
        for partition, lag in sorted(_group_lag(settings, grp, topic).items()):
            rows.append({"group": grp, "topic": topic, "partition": partition, "lag": lag})
    return rows


def _group_lag(settings: Settings, grp: str, topic: str) -> dict[int, int]:
    if settings.bus.backend == "kafka":
        from newsflow.bus.kafka import KafkaBroker

        return {p.index: n for p, n in KafkaBroker(settings.bus).group_lag(grp, [topic]).items()}
    broker = _local_broker(settings)
    if broker is None:
        return {}
    try:
        committed = broker.committed(grp, topic)
        return {p.index: max(0, end - committed.get(p, 0)) for p, end in broker.end_offsets(topic).items()}
    finally:
        broker.close()


def dead_letters(settings: Settings) -> dict[str, Any]:
    """Messages in the dead-letter topic, and how many the replay group has not replayed yet."""
    topic = settings.bus.topics.dead_letters
    replay = group(settings, "dlq-replay")
    if settings.bus.backend == "kafka":
        from kafka import KafkaConsumer
        from kafka.structs import TopicPartition

        from newsflow.bus.kafka import KafkaBroker, client_config

        probe = KafkaConsumer(**client_config(settings.bus.kafka), enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or ()]
            end = probe.end_offsets(tps) if tps else {}
            begin = probe.beginning_offsets(tps) if tps else {}
        finally:
            probe.close()
        total = sum(end[tp] - begin[tp] for tp in tps)
        pending = sum(KafkaBroker(settings.bus).group_lag(replay, [topic]).values()) if tps else 0
        return {"topic": topic, "count": total, "not_replayed": min(pending, total)}
    broker = _local_broker(settings)
    if broker is None:
        return {"topic": topic, "count": 0, "not_replayed": 0}
    try:
        ends = broker.end_offsets(topic)
        committed = broker.committed(replay, topic)
    finally:
        broker.close()
    total = sum(ends.values())
    return {"topic": topic, "count": total, "not_replayed": sum(max(0, e - committed.get(p, 0)) for p, e in ends.items())}


def _local_broker(settings: Settings) -> Any:
    if not settings.bus_db.exists():
        return None  # nothing ran yet; opening it would create it
    from newsflow.bus.local import LocalBroker

    return LocalBroker(settings.bus_db)


def index_counts(settings: Settings) -> dict[str, Any]:
    from newsflow.pipeline.backends import open_index

    if settings.index.backend == "elasticsearch":
        name = settings.index.elasticsearch.alias
    else:
        name = str(settings.index_db)
        if not settings.index_db.exists():
            return {"backend": "sqlite", "name": name, "count": 0}
    idx = open_index(settings, create=False)
    try:
        return {"backend": settings.index.backend, "name": name, "count": idx.count()}
    finally:
        idx.close()


SECTIONS: dict[str, Callable[[Settings], Any]] = {
    "feeds": feed_health,
    "lag": topic_lag,
    "dead_letters": dead_letters,
    "index": index_counts,
}


def collect(settings: Settings) -> dict[str, Any]:
    """Every section; one that cannot be read is None, with its error under ``errors``."""
    report: dict[str, Any] = {"bus": settings.bus.backend, "errors": {}}
    for name, read in SECTIONS.items():
        try:
            report[name] = read(settings)
        except Exception as exc:  # a service that is down must not hide the other sections
            report[name] = None
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    return report


# -- the command ---------------------------------------------------------------------------------


@app.command()
def status(config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Feed health, topic lag, dead letters and index counts (exit 1 if a section is unreadable)."""
    import orjson

    s = _settings(config)
    logs.configure("text", "ERROR")  # client libraries' reconnect chatter would bury the tables
    report = collect(s)
    if as_json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render(report)
    if report["errors"]:
        raise typer.Exit(1)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ago(value: str | None, now: datetime) -> str:
    """An ISO time as "5m ago" / "in 2h" (the JSON output has the exact times)."""
    if not value:
        return "-"
    seconds = (datetime.fromisoformat(value) - now).total_seconds()
    n, unit = abs(seconds), "s"
    for size, name in ((86400, "d"), (3600, "h"), (60, "m")):
        if n >= size:
            n, unit = n / size, name
            break
    text = f"{n:.0f}{unit}"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _table(title: str, *headings: str) -> Table:
    table = Table(title=title)
    for heading in headings:
        table.add_column(heading, overflow="fold")
    return table


def render(report: dict[str, Any]) -> None:
    errors = report["errors"]
    now = datetime.now(timezone.utc)

    def failed(section: str) -> bool:
        if section in errors:
            err.print(f"[red]{section}: cannot read: {errors[section]}[/]", highlight=False)
            return True
        return False

    if not failed("feeds"):
        table = Table(title="Feeds")
        table.add_column("feed", overflow="fold", min_width=16)  # a url is only useful whole
        table.add_column("status", no_wrap=True)
        table.add_column("last ok", justify="right", no_wrap=True)
        table.add_column("fails", justify="right", no_wrap=True)
        table.add_column("last error", overflow="fold", min_width=12, max_width=40)
        table.add_column("next", justify="right", no_wrap=True)
        table.add_column("/day", justify="right", no_wrap=True)  # items per day
        for f in report["feeds"]:
            style = {"failing": "red", "error": "yellow"}.get(f["status"])
            label = f["url"] if not f["name"] else f"{f['name']}\n{f['url']}"
            table.add_row(
                label + ("" if f["configured"] else "\n(not in the config)")
                + (f"\n(moved to {f['moved_to']}: update the config)" if f.get("moved_to") else ""),
                f"[{style}]{f['status']}[/]" if style else f["status"],
                _ago(f["last_success"], now),
                str(f["consecutive_failures"]),
                _short((f"{f['last_error_kind']}: " if f["last_error_kind"] else "") + (f["last_error"] or "-"), 80),
                _ago(f["next_poll"], now),
                "-" if f["items_per_day"] is None else f"{f['items_per_day']:g}",
            )
        out.print(table)
    if not failed("lag"):
        table = _table(f"Topic lag ({report['bus']} bus)", "group", "topic", "partition", "lag")
        totals: dict[tuple[str, str], int] = {}
        for r in report["lag"]:
            table.add_row(r["group"], r["topic"], str(r["partition"]), str(r["lag"]))
            totals[(r["group"], r["topic"])] = totals.get((r["group"], r["topic"]), 0) + r["lag"]
        for (grp, topic), total in totals.items():
            table.add_row(f"[bold]{grp}[/]", topic, "all", f"[bold]{total}[/]")
        if not report["lag"]:
            table.add_row("-", "(no topics yet)", "-", "-")
        out.print(table)
    if not failed("dead_letters"):
        d = report["dead_letters"]
        table = _table("Dead letters", "topic", "dead letters", "not replayed")
        table.add_row(d["topic"], str(d["count"]), str(d["not_replayed"]))
        out.print(table)
    if not failed("index"):
        i = report["index"]
        table = _table("Index", "backend", "index", "articles")
        table.add_row(i["backend"], i["name"], str(i["count"]))
        out.print(table)
