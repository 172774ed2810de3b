"""`newsflow kibana import` (and the report `newsflow setup --kibana-url` prints): the client is
newsflow.kibana."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from newsflow.cli.common import err, out
from newsflow.kibana import DEFAULTS, KIBANA_DIR_ENV, redact, run_import

if TYPE_CHECKING:
    from newsflow.kibana import ImportResult

kibana_app = typer.Typer(help="Kibana: data views, saved searches and dashboards for newsflow.", no_args_is_help=True)


def report(url: str, space: Optional[str], sent: int, result: "ImportResult", overwrite: bool) -> int:
    """Print the outcome; the exit code (0 ok, 1 Kibana refused objects)."""
    where = escape(f"{redact(url)} (space {space or 'default'})")  # [::1] is not markup
    if result.success:
        out.print(f"imported {result.success_count} of {sent} saved objects into Kibana at {where}", highlight=False)
        return 0
    if not overwrite and result.conflicts_only:
        out.print(
            f"imported {result.success_count} of {sent} saved objects into Kibana at {where}; "
            f"{len(result.errors)} already exist and were kept (--overwrite replaces them)",
            highlight=False,
        )
        return 0
    err.print(
        f"[red]error:[/] Kibana at {where} refused {len(result.errors)} of {sent} saved objects "
        f"({result.success_count} imported):",
        highlight=False,
    )
    for line in result.error_lines():
        err.print(f"  {line}", highlight=False, markup=False)
    return 1



@kibana_app.command("import")
def kibana_import(
    url: str = typer.Option(..., "--url", envvar="NEWSFLOW_KIBANA_URL", help="Kibana's base url, e.g. http://kibana:5601."),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", envvar="NEWSFLOW_KIBANA_API_KEY", show_default=False,
        help="An API key (the base64 id:key); sent as 'Authorization: ApiKey ...'. Prefer the env var.",
    ),
    user: Optional[str] = typer.Option(None, "--user", envvar="NEWSFLOW_KIBANA_USER", help="Basic auth user."),
    password: Optional[str] = typer.Option(
        None, "--password", envvar="NEWSFLOW_KIBANA_PASSWORD", show_default=False, help="Basic auth password. Prefer the env var."
    ),
    space: Optional[str] = typer.Option(None, "--space", help="Kibana space id (default: the default space)."),
    overwrite: bool = typer.Option(True, "--overwrite/--no-overwrite", help="Replace objects that already exist."),
    directory: Optional[Path] = typer.Option(
        None, "--dir", help=f"Folder of .ndjson files (default: ${KIBANA_DIR_ENV}, else deploy/kibana of the checkout)."
    ),
    alias: str = typer.Option(DEFAULTS.alias, help="The articles alias (index.elasticsearch.alias); the data view is ALIAS*."),
    feed_status_index: str = typer.Option(DEFAULTS.feed_status_index, help="index.elasticsearch.feed_status_index."),
    ca_certs: Optional[Path] = typer.Option(None, "--ca-certs", help="CA bundle for an https Kibana with a private CA."),
    wait: float = typer.Option(0.0, help="Retry this many seconds while Kibana is unreachable or starting."),
) -> None:
    """Import the data views, saved searches and dashboards into Kibana (saved objects import API)."""
    sent, result = run_import(
        url, directory=directory, api_key=api_key, user=user, password=password, space=space,
        overwrite=overwrite, alias=alias, feed_status_index=feed_status_index, ca_certs=ca_certs, wait=wait,
    )
    raise typer.Exit(report(url, space, sent, result, overwrite))
