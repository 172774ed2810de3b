"""`newsflow config check|show`: inspect and validate the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import ConfigOpt, load_settings, out

config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)


@config_app.command("check")
def config_check(config: Optional[Path] = ConfigOpt) -> None:
    """Validate the config (file + NEWSFLOW_* environment) and say where it came from."""
    s = load_settings(config)
    out.print(f"ok: {s.source or 'defaults and environment'}: {len(s.feeds)} feeds, bus={s.bus.backend}, index={s.index.backend}")


@config_app.command("show")
def config_show(config: Optional[Path] = ConfigOpt) -> None:
    """Print the effective config as JSON (secrets masked)."""
    s = load_settings(config)
    out.print_json(s.model_dump_json())
