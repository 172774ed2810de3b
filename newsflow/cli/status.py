"""`newsflow status`: the report of newsflow.status as tables (or JSON)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from newsflow.cli.common import ConfigOpt, err, load_settings, out


def status(config: Optional[Path] = ConfigOpt, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Feed health, topic lag, dead letters and index counts (exit 1 if a section is unreadable)."""
    import orjson

    from newsflow.daemon import logs
    from newsflow.status import collect

    s = load_settings(config)
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
