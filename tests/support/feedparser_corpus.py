"""feedparser's own public test feeds (ill-formed and well-formed), from its source distribution.

They are not vendored into this repo: the sdist of the installed feedparser version is
downloaded once from the package index with pip and unpacked into a cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

CACHE = Path(os.environ.get("NEWSFLOW_CACHE", "~/.cache/newsflow")).expanduser() / "feedparser-tests"


def corpus_dir() -> Path:
    """Return ``.../feedparser-<v>/tests`` holding ``illformed/`` and ``wellformed/``; download if needed."""
    v = version("feedparser")
    target = CACHE / f"feedparser-{v}" / "tests"
    if (target / "illformed").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
         f"feedparser=={v}", "-d", str(CACHE)],
        check=True,
        timeout=300,
    )
    with tarfile.open(CACHE / f"feedparser-{v}.tar.gz") as tar:
        members = [m for m in tar.getmembers() if "/tests/illformed/" in m.name or "/tests/wellformed/" in m.name]
        tar.extractall(CACHE, members=members, filter="data")
    return target


if __name__ == "__main__":
    print(corpus_dir())
