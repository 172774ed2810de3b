"""`newsflow status`: the report of newsflow.status as tables (or JSON).

Exit status: 0 when every section was read; 1 when a service is unreachable (one ``error:`` line
names it and what to do; its sections are skipped) or a section could not be read.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from newsflow.cli.common import CliError, ConfigOpt, err, load_settings, out

# What the operator can do about each service.
FIX = {
    "kafka": "check the broker (`newsflow services up` starts the local one) and bus.kafka.bootstrap_servers",
    "elasticsearch": "check the cluster (`newsflow services up` starts the local one) and index.elasticsearch.hosts",
}
# Client libraries whose connection errors would bury the report (status says it in one line).
QUIET = ("kafka", "elasticsearch", "elastic_transport", "urllib3")


def parse_since(text: str, now: datetime | None = None) -> float:
    """``30m``, ``2h``, ``1d`` (ago) or an ISO date/time, as a POSIX time."""
    now = now or datetime.now(timezone.utc)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return (now - timedelta(**{unit: float(match.group(1))})).timestamp()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--since {text!r}: give a duration (30m, 2h, 1d) or an ISO date (2026-01-31T12:00)", 2) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def status(
    config: Optional[Path] = ConfigOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    events: int = typer.Option(20, "--events", "-n", min=0, help="Fault history: how many recent events."),
    since: Optional[str] = typer.Option(None, "--since", help="Fault history since (30m, 2h, 1d or an ISO date)."),
) -> None:
    """Services, feed health, consumer groups and lag, dead letters, index counts, recent faults
    (exit 1 if a service is unreachable or a section unreadable)."""
    import orjson

    from newsflow.daemon import logs
    from newsflow.status import collect

    s = load_settings(config)
    start = parse_since(since) if since else None
    logs.configure("text", "ERROR")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    report = collect(s, limit=events, since=start)
    if as_json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    for service, reason in report["unreachable"].items():
        err.print(f"error: {service} unreachable ({escape(reason)}): {FIX.get(service, 'check it')}",
                  highlight=False, soft_wrap=True)
    if not as_json:
        render(report)
    if report["errors"] or report["unreachable"]:
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
            if not errors[section].endswith(" unreachable"):  # those have their one line already
                err.print(f"[red]{section}: cannot read: {escape(errors[section])}[/]", highlight=False)
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
    if not failed("groups"):
        table = _table(f"Consumer groups ({report['bus']} bus)", "group", "state", "members", "partitions", "lag")
        for g in report["groups"]:
            style = {"stable": "green", "rebalancing": "yellow", "dead": "red"}.get(g["state"])
            members = [f"{m['member_id']} ({m['client_id']}@{m['host']})" + ("" if m["alive"] else " [red]dead[/]")
                       for m in g["members"]]
            table.add_row(
                g["group"], f"[{style}]{g['state']}[/]" if style else g["state"],
                "\n".join(members) or "-", "\n".join(", ".join(m["partitions"]) or "-" for m in g["members"]) or "-",
                str(sum(r["lag"] for r in g["lag"])),
            )
        if not report["groups"]:
            table.add_row("-", "(no groups yet)", "-", "-", "-")
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
    if not failed("history"):
        table = _table("Recent faults", "time", "stage", "kind", "detail")
        for e in report["history"]:
            kind = e["kind"]
            style = {"outage": "red", "dead_letters": "yellow", "bus_refusal": "yellow", "archive_failed": "yellow",
                     "archive_upload_failed": "yellow",
                     "recovered": "green"}.get(kind)
            table.add_row(f"{e['time']} ({_ago(e['time'], now)})", e["stage"], f"[{style}]{kind}[/]" if style else kind,
                          escape(_short(e["detail"], 160)))
        if not report["history"]:
            table.add_row("-", "-", "-", "(no events recorded)")
        out.print(table)
