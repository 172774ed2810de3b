"""`newsflow services up|down|status|logs`: the local Kafka broker and Elasticsearch node of a checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import CliError

# A source checkout keeps the script beside the package (newsflow/cli/ -> the checkout root).
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "services.sh"


def services(action: str = typer.Argument(..., help="up | down | status | logs"), service: Optional[str] = typer.Argument(None)) -> None:
    """Start or stop the local Kafka broker and Elasticsearch node (deploy/local/services.sh)."""
    if not SCRIPT.exists():
        raise CliError(f"{SCRIPT} is missing: `newsflow services` needs a checkout of the newsflow repository", exit_code=2)
    args = ["bash", str(SCRIPT), action] + ([service] if service else [])
    raise typer.Exit(subprocess.call(args))
