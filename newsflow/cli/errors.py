"""Expected failures end a command with one line, ``error: <cause and what to do>``, and a non-zero
exit; anything else is a bug and keeps its traceback. ``newsflow --debug`` (or NEWSFLOW_DEBUG=1)
shows the traceback of expected failures too.

The one place this happens is ``NewsflowGroup.invoke``: every command runs inside it.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any, Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from newsflow.cli.common import err
from newsflow.core.errors import ConfigError, NewsflowError, Transient

DEBUG_ENV = "NEWSFLOW_DEBUG"


SQLITE_HINT = "another newsflow process may hold the file, or it is damaged: stop that process, or move the file away"


def _start_or_fix(setting: str) -> str:
    return f"is it running? Start it (`newsflow services up` runs the local ones) or fix {setting}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from (or while handling)."""
    found: list[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _module_class(module: str, name: str) -> Optional[type]:
    """A class of a module already imported (an exception from a library means the library is
    loaded; the check itself must not import Elasticsearch's or Kafka's client)."""
    loaded = sys.modules.get(module)
    found = getattr(loaded, name, None) if loaded is not None else None
    return found if isinstance(found, type) else None


def _is(exc: BaseException, module: str, *names: str) -> bool:
    return any(cls is not None and isinstance(exc, cls) for cls in (_module_class(module, n) for n in names))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def expected(exc: BaseException) -> Optional[tuple[str, int]]:
    """(message, exit code) for an error a user can cause or meet; None for a bug."""
    if isinstance(exc, ConfigError):
        return str(exc), 2  # one line naming the file, then one line per bad key
    if isinstance(exc, Transient):
        if any(isinstance(e, sqlite3.Error) for e in _chain(exc)):  # the embedded bus or index
            return _one_line(f"{exc} ({SQLITE_HINT})"), 1
        bus = _is(exc, "newsflow.bus.backend", "BusUnavailable")
        setting = "bus.kafka.bootstrap_servers" if bus else "index.elasticsearch.hosts"
        return _one_line(f"{exc}: {_start_or_fix(setting)}"), 1
    if isinstance(exc, NewsflowError):
        return _one_line(str(exc)), int(getattr(exc, "exit_code", 1))
    if _is(exc, "newsflow.processors.enrich.base", "EnricherUnavailable"):
        return _one_line(str(exc)), 2
    if isinstance(exc, OSError) and exc.filename is not None:
        return _one_line(f"{exc.filename}: {exc.strerror or exc}"), 1
    if isinstance(exc, sqlite3.Error):
        return _one_line(f"SQLite database in data_dir: {exc} ({SQLITE_HINT})"), 1
    if _is(exc, "elastic_transport", "ConnectionError", "ConnectionTimeout"):
        return _one_line(f"cannot reach Elasticsearch: {exc}: {_start_or_fix('index.elasticsearch.hosts')}"), 1
    if _is(exc, "elasticsearch", "AuthenticationException", "AuthorizationException"):
        return _one_line(f"Elasticsearch refused the credentials: {exc} (check index.elasticsearch's api_key or user)"), 1
    if _is(exc, "kafka.errors", "KafkaError"):
        return _one_line(f"Kafka: {type(exc).__name__}: {exc}: {_start_or_fix('bus.kafka.bootstrap_servers')}"), 1
    return None


def print_error(message: str) -> None:
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def debug_requested(ctx: typer.Context) -> bool:
    return bool(ctx.find_root().params.get("debug"))


class NewsflowGroup(TyperGroup):
    """The root command group: runs every command and turns an expected failure into one line."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            found = None if debug_requested(ctx) else expected(exc)
            if found is None:
                raise  # a bug (or --debug): the traceback is what helps
            message, code = found
            print_error(message)
            raise typer.Exit(code) from exc
