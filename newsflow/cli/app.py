"""The `newsflow` command: every command group and command is registered here, and nowhere else.

Each command lives in its own module of newsflow.cli (which imports nothing back from this one);
heavy modules are imported inside the commands so `--help` stays instant. Expected failures end
with one ``error:`` line (newsflow.cli.errors); ``--debug`` shows their traceback.
"""

from __future__ import annotations

import typer

from newsflow.cli import (
    backfill, bench, config_cmd, daemons, dlq, extract, feeds, kibana, reprocess, run, search, services, setup, status, stories, web,
)
from newsflow.cli.errors import DEBUG_ENV, NewsflowGroup

app = typer.Typer(
    cls=NewsflowGroup,
    help="newsflow: feeds -> clean articles -> enrichment -> search index.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets (passwords, API keys)
)


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", envvar=DEBUG_ENV, help="Show the traceback of an error, not just its one line."),
) -> None:
    """The options before the command (read by NewsflowGroup)."""


app.add_typer(feeds.feeds_app, name="feeds")
app.add_typer(dlq.dlq_app, name="dlq")
app.add_typer(config_cmd.config_app, name="config")
app.command()(extract.extract)
app.command()(search.search)
app.command()(stories.stories)
app.command()(run.run)
app.command()(run.demo)
app.command()(reprocess.reprocess)
app.command()(backfill.backfill)
app.command()(services.services)
app.command()(daemons.poll)
app.command()(daemons.enrich)
app.command("index")(daemons.index)
app.add_typer(kibana.kibana_app, name="kibana")
app.command()(setup.setup)
app.command()(status.status)
app.command()(web.web)
bench.register(app)


def main() -> None:
    app()
