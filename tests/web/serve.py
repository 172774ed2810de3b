"""Run `newsflow web` as its own process, as a user would, and wait until it answers."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest


def newsflow(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "newsflow", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)  # fmt: skip


@contextmanager
def web(*args: str, port: int, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """`newsflow web --port <port> <args>`, once its page answers on 127.0.0.1; stopped after."""
    proc = newsflow("web", "--port", str(port), *args, cwd=cwd)
    try:
        while True:  # a readiness wait: nothing asserts how long it takes
            if proc.poll() is not None:
                pytest.fail(f"newsflow web exited {proc.returncode}: {proc.stderr.read()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
