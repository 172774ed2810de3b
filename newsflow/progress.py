"""Progress for long CLI work: a rich bar on a terminal, plain periodic lines otherwise
(so logs and CI output stay readable)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

T = TypeVar("T")


def track(items: Iterable[T], total: int | None, description: str, *, every: float = 5.0) -> Iterator[T]:
    if sys.stderr.isatty():
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)
        return
    done, last = 0, time.monotonic()
    for item in items:
        yield item
        done += 1
        if time.monotonic() - last >= every:
            last = time.monotonic()
            of = f"/{total}" if total is not None else ""
            print(f"{description}: {done}{of}", file=sys.stderr, flush=True)
    print(f"{description}: {done} done", file=sys.stderr, flush=True)
