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
    from newsflow.ingest.archive_s3 import open_store

    s = load_settings(config)
    open_store(s.archive.s3)  # the S3 client from the config (no request): a key boto3 refuses is an error here
    archive = ("on" if s.archive.enabled else "off") + (f" + {s.archive.s3.location()}" if s.archive.s3.enabled else "")
    out.print(f"ok: {s.source or 'defaults and environment'}: {len(s.feeds)} feeds, bus={s.bus.backend}, "
              f"index={s.index.backend}, archive={archive}", highlight=False, soft_wrap=True)


@config_app.command("show")
def config_show(config: Optional[Path] = ConfigOpt) -> None:
    """Print the effective config as JSON (secrets masked)."""
    s = load_settings(config)
    out.print_json(s.model_dump_json())
