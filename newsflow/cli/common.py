"""What every command module shares (a leaf of the CLI: imports no other module of newsflow.cli).

Heavy modules are imported inside functions so `newsflow --help` stays instant.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console

from newsflow.core.errors import NewsflowError

if TYPE_CHECKING:
    from newsflow.settings import Settings

out = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="Config file (default: $NEWSFLOW_CONFIG, ./newsflow.toml, ~/.config/newsflow/newsflow.toml).")


class CliError(NewsflowError):
    """A command's own expected failure (bad input, nothing to do): the CLI prints ``error: <message>``
    as one line and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings(config: Optional[Path], **overrides: object) -> "Settings":
    """The settings from ``--config`` (or the default places) and the environment. A bad config
    raises ConfigError, which the CLI prints as one error (exit 2)."""
    from newsflow.settings import load

    return load(config, **overrides)


def config_path_for_write(config: Optional[Path]) -> Path:
    from newsflow.settings import default_config_path

    return config or default_config_path() or Path.cwd() / "newsflow.toml"


def snippet_markup(snippet: str) -> str:
    """Both indexes mark hits as <em>...</em>; on a terminal that reads better in bold."""
    from rich.markup import escape

    return escape(" ".join(snippet.split())).replace("<em>", "[bold]").replace("</em>", "[/bold]")


def parse_when(value: Optional[str], option: str) -> Optional[datetime]:
    """An ISO date or time option as an aware datetime (UTC unless it says); None stays None."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: not an ISO date or time: {value!r} (e.g. 2026-12-01 or 2026-12-01T08:00)", exit_code=2)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
