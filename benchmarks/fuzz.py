"""`newsflow bench fuzz`: the properties of tests/test_fuzz.py for minutes instead of seconds, before a release.

The targets, strategies and properties are ``benchmarks.fuzz_targets``'s, as in the tests; here
each target gets an equal share of the time, spent in batches of new random inputs (the tests
draw the same inputs on every run). Per target it prints the examples run and the failures: a
failure is the shrunk, minimal input, saved under ``--out`` (``<target>-<hash>/input.bin`` and
``args.txt``), with the exception it raised. An example that runs past the hang limit is saved
as it is and ends the run at once (a hang cannot be shrunk). Exits 1 when anything failed.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # imported when the command runs: hypothesis is a dev dependency, and slow to import
    from benchmarks.fuzz_targets import Case, Target

HANG_FACTOR = 10  # an example past 10x its deadline (and 60 s) is a hang


def save(out: Path, target: Target, case: Case, error: str) -> Path:
    digest = hashlib.sha1(case.data + repr(sorted(case.args.items(), key=str)).encode("utf-8", "replace")).hexdigest()[:12]
    folder = out / f"{target.name}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files().items():
        (folder / name).write_bytes(data)
    (folder / "error.txt").write_text(error + "\n", encoding="utf-8")
    return folder


class Watchdog:
    """Saves the running example and exits when one runs past its hang limit."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.current: tuple[Target, Case, float] | None = None
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self, target: Target, case: Case) -> None:
        self.current = (target, case, time.monotonic())

    def _watch(self) -> None:
        while True:
            time.sleep(1.0)
            current = self.current
            if current is None:
                continue
            target, case, started = current
            limit = max(60.0, HANG_FACTOR * target.deadline_ms / 1000)
            if time.monotonic() - started > limit:
                folder = save(self.out, target, case, f"hang: still running after {limit:.0f} s")
                print(f"{target.name}: HANG, an example ran over {limit:.0f} s: saved {folder}", flush=True)
                os._exit(1)


def fuzz_target(target: Target, budget: float, watchdog: Watchdog, out: Path, seed: int | None) -> tuple[int, str | None]:
    """Run ``target`` for about ``budget`` seconds; (examples run, the saved failure's line or None)."""
    from benchmarks.fuzz_targets import run_examples

    count = 0
    last: list[Case] = []

    def seen(case: Case) -> None:
        nonlocal count
        count += 1
        last[:] = [case]
        watchdog.start(target, case)

    stop = time.monotonic() + budget
    batch, batches = 5, 0
    while True:
        began, before = time.monotonic(), count
        try:
            run_examples(target, batch, on_case=seen, seed=None if seed is None else seed + batches)
        except Exception as exc:  # the property's failure, shrunk by hypothesis: the last case run is the minimal one
            error = "".join(traceback.format_exception(exc))
            folder = save(out, target, last[0], error) if last else None
            return count, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} -> saved {folder}"
        finally:
            watchdog.current = None
        batches += 1
        left = stop - time.monotonic()
        if left <= 0:
            return count, None
        per_example = (time.monotonic() - began) / max(1, count - before)
        batch = int(min(500, max(5, left / per_example)))


def bench_fuzz(
    minutes: float = typer.Option(10.0, "--minutes", min=0, help="Total time, shared equally by the targets."),
    seconds: float = typer.Option(0.0, "--seconds", min=0, help="Total time in seconds (instead of --minutes)."),
    only: str = typer.Option("", "--targets", help="Comma-separated targets (default: all)."),
    out: Path = typer.Option(Path("fuzz-failures"), "--out", help="Folder for the minimal failing inputs."),
    seed: int = typer.Option(-1, "--seed", help="Draw the inputs of this seed (default: new random ones each run)."),
) -> None:
    """Property-based fuzzing of the feed parser, url canonicalisation, content decoding, the
    extractor and OPML import, on mutated real documents; minimal failing inputs saved to --out."""
    try:
        from benchmarks.fuzz_targets import targets
    except ImportError as exc:
        print(f"newsflow bench fuzz needs the dev extra ({exc.name} is missing): bash deploy/bootstrap.sh --dev")
        raise typer.Exit(2) from exc
    chosen = targets()
    if only:
        names = {n.strip() for n in only.split(",") if n.strip()}
        unknown = names - {t.name for t in chosen}
        if unknown:
            raise typer.BadParameter(f"unknown targets {sorted(unknown)}; known: {[t.name for t in chosen]}")
        chosen = [t for t in chosen if t.name in names]
    total = seconds or minutes * 60
    out = out.resolve()
    print(f"fuzzing {len(chosen)} targets for {total:.0f} s; failures go to {out}", flush=True)
    watchdog = Watchdog(out)
    failures = examples = 0
    started = time.monotonic()
    for i, target in enumerate(chosen):
        budget = (total - (time.monotonic() - started)) / (len(chosen) - i)
        count, failure = fuzz_target(target, budget, watchdog, out, None if seed < 0 else seed)
        examples += count
        if failure:
            failures += 1
            print(f"{target.name}: {count} examples, 1 failure: {failure}", flush=True)
        else:
            print(f"{target.name}: {count} examples, 0 failures", flush=True)
    print(f"total: {examples} examples in {time.monotonic() - started:.0f} s, {failures} failures"
          + (f" (minimal inputs in {out})" if failures else ""), flush=True)
    sys.stdout.flush()
    if failures:
        raise typer.Exit(1)
