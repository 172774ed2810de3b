"""`newsflow bench ...`: the benchmarks of a checkout (``benchmarks/`` beside ``newsflow/``).

They are dev code, not installed with the package: without the folder, ``newsflow bench``
says so in one line and exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from newsflow.cli.common import CliError

# newsflow/cli/bench.py -> the checkout root, which holds benchmarks/ in a source checkout.
CHECKOUT = Path(__file__).resolve().parents[2]
MISSING = "newsflow bench needs a checkout of the newsflow repository: the benchmarks are not installed with the package"
HELP = "Benchmarks that print newsflow beside a baseline measured in the same run (in a checkout)."


def register(app: typer.Typer) -> None:
    """Add the benchmarks' command group to ``app``, or a `bench` command that says they are missing."""
    if (CHECKOUT / "benchmarks" / "__init__.py").is_file():
        if str(CHECKOUT) not in sys.path:
            sys.path.append(str(CHECKOUT))
        from benchmarks.cli import bench_app

        app.add_typer(bench_app, name="bench")
        return
    settings = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
    app.command("bench", help=HELP, context_settings=settings)(missing)


def missing(ctx: typer.Context) -> None:
    raise CliError(MISSING, exit_code=2)
