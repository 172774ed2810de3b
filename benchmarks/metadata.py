"""`newsflow bench metadata DATASET_DIR`: newsflow's article fields beside plain trafilatura's and
readability-lxml's, same run.

The dataset layout (``benchmarks/metadata_sets.py`` builds it from goose3's and newspaper4k's test
pages)::

    DATASET_DIR/expected.json   key -> {url, title, title_also, authors, published, site, ...}
    DATASET_DIR/html/<key>.html.gz

A field that is null (or an empty list) is not scored on that page. Each extractor gets the page
bytes and the url only:

* newsflow: ``ingest.extract.article.extract(html, url)``, its Article's title, authors,
  published_at and site (a page it refuses, as having no text, scores nothing);
* trafilatura: ``trafilatura.bare_extraction(html, url=url, with_metadata=True)`` with default
  settings (title, author split on "; ", date, sitename);
* readability-lxml: ``Document(html).title()`` and ``.short_title()`` (titles only).

The scores, each the share of the pages that give the field:

* **title exact**: the same string as the expected title (or one of ``title_also``, a second
  headline the page shows) once whitespace is collapsed, Unicode is NFC and quotes and dashes are
  plain ASCII;
* **title lenient**: the same words (case and punctuation aside), or one of the two is the other
  with a part of at most a third of its words added at one end (a site name, a section:
  "Headline - CNN.com" for "Headline");
* **byline**: the same set of names as expected (case, punctuation and order aside); an extra
  name or a missing one is a miss;
* **date**: the same calendar day as expected, each read in its own time zone (the page's);
* **site**: the same name, case, punctuation, a leading "www." and a trailing ".com"-like
  suffix aside.

``--halves`` also prints the scores on the two halves of the set (by the parity of a digest of
each page's key), to check that a gain holds on both.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

FIELDS = ("title_exact", "title_lenient", "byline", "date", "site")
_WORD = re.compile(r"\w+")
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                        "\u00a0": " "})
_TLD = re.compile(r"\.(com|net|org|co\.uk|co|info|news|gg)$")


@dataclass
class Case:
    key: str
    path: Path
    url: str
    title: str | None = None
    title_also: list[str] = field(default_factory=list)
    authors: list[str] | None = None
    published: str | None = None
    site: str | None = None


@dataclass
class Fields:
    """What one extractor said of one page; None where it said nothing (or cannot)."""

    title: str | None = None
    authors: list[str] | None = None
    published: date | None = None
    site: str | None = None


def load_cases(root: Path) -> list[Case]:
    expected = json.loads((root / "expected.json").read_text(encoding="utf-8"))
    cases = []
    for key, e in expected.items():
        path = root / "html" / f"{key}.html.gz"
        if not path.exists():
            raise FileNotFoundError(f"{path}: the page of {key} is missing")
        cases.append(Case(key, path, e.get("url") or f"https://unknown.invalid/{key}", e.get("title"),
                          list(e.get("title_also") or []), e.get("authors") or None, e.get("published"),
                          e.get("site") or None))
    return cases


# --- scoring ------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).translate(_PLAIN).split())


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def title_exact(expected: list[str], got: str | None) -> bool:
    return got is not None and any(_plain(got) == _plain(t) for t in expected)


def title_lenient(expected: list[str], got: str | None) -> bool:
    if not got:
        return False
    mine = _words(got)
    for theirs in map(_words, expected):
        if mine == theirs:
            return True
        short, long_ = sorted((mine, theirs), key=len)
        extra = len(long_) - len(short)
        if short and extra * 3 <= len(long_) and (long_[:len(short)] == short or long_[-len(short):] == short):
            return True
    return False


def _name(name: str) -> tuple[str, ...]:
    return tuple(_words(name))


def byline_match(expected: list[str], got: list[str] | None) -> bool:
    return {_name(n) for n in expected} == {_name(n) for n in got or [] if _name(n)}


def day_of(value: str | date | datetime | None) -> date | None:
    """The calendar day of a timestamp as written, in its own time zone (no conversion)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    match = re.match(r"(\d{4})[-/](\d{2})[-/](\d{2})", value.strip())
    return date(*map(int, match.groups())) if match else None


def same_day(expected: str, got: date | None) -> bool:
    return got is not None and day_of(expected) == got


def _site_key(name: str) -> str:
    name = unicodedata.normalize("NFC", name).casefold().strip()
    name = _TLD.sub("", name.removeprefix("www."))
    return "".join(_words(name))


def site_match(expected: str, got: str | None) -> bool:
    return bool(got) and _site_key(expected) == _site_key(got)


def score(cases: list[Case], answers: dict[str, Fields], fields: tuple[str, ...] = FIELDS) -> dict[str, tuple[int, int]]:
    """field -> (pages right, pages that give the field)."""
    tally = {f: [0, 0] for f in fields}
    for case in cases:
        got = answers.get(case.key, Fields())
        checks: dict[str, Callable[[], bool] | None] = {
            "title_exact": (lambda: title_exact([case.title, *case.title_also], got.title)) if case.title else None,
            "title_lenient": (lambda: title_lenient([case.title, *case.title_also], got.title)) if case.title else None,
            "byline": (lambda: byline_match(case.authors, got.authors)) if case.authors else None,
            "date": (lambda: same_day(case.published, got.published)) if case.published else None,
            "site": (lambda: site_match(case.site, got.site)) if case.site else None,
        }
        for f in fields:
            check = checks[f]
            if check is not None:
                tally[f][1] += 1
                tally[f][0] += check()
    return {f: (right, total) for f, (right, total) in tally.items()}


# --- extractors ---------------------------------------------------------------------------


def newsflow_fields(html: bytes, url: str) -> Fields:
    from newsflow.ingest.extract.article import extract
    from newsflow.ingest.extract.errors import ExtractionError

    try:
        article = extract(html, url).article
    except ExtractionError:
        return Fields()
    return Fields(article.title, article.authors or None, day_of(article.published_at), article.site)


def trafilatura_fields(html: bytes, url: str) -> Fields:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    except Exception:  # noqa: BLE001 - a crash on one page is that page's nothing
        return Fields()
    if doc is None:
        return Fields()
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Fields(doc.title, authors or None, day_of(doc.date), doc.sitename)


def readability_fields(html: bytes, short: bool) -> Fields:
    from readability import Document

    try:
        document = Document(html)
        return Fields(title=document.short_title() if short else document.title())
    except Exception:  # noqa: BLE001 - as above
        return Fields()


EXTRACTORS: dict[str, tuple[Callable[[bytes, str], Fields], tuple[str, ...]]] = {
    "newsflow": (newsflow_fields, FIELDS),
    "trafilatura": (trafilatura_fields, FIELDS),
    "readability title()": (lambda html, url: readability_fields(html, short=False), ("title_exact", "title_lenient")),
    "readability short_title()": (lambda html, url: readability_fields(html, short=True),
                                  ("title_exact", "title_lenient")),
}


def run_all(cases: list[Case], progress: Callable[[], None] | None = None) -> dict[str, dict[str, Fields]]:
    answers: dict[str, dict[str, Fields]] = {name: {} for name in EXTRACTORS}
    for case in cases:
        html = gzip.decompress(case.path.read_bytes())
        for name, (read, _fields) in EXTRACTORS.items():
            answers[name][case.key] = read(html, case.url)
        if progress:
            progress()
    return answers


def half(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[0] % 2


def results_table(title: str, cases: list[Case], answers: dict[str, dict[str, Fields]]) -> Table:
    table = Table(title=title)
    table.add_column("extractor")
    counts = score(cases, {})
    for f in FIELDS:
        table.add_column(f"{f.replace('_', ' ')} ({counts[f][1]})", justify="right")
    for name, (_read, fields) in EXTRACTORS.items():
        scores = score(cases, answers[name], fields)
        table.add_row(name, *(f"{scores[f][0] / scores[f][1]:.2f}" if f in scores and scores[f][1] else "-"
                              for f in FIELDS))
    return table


def bench_metadata(
    dataset_dir: Path = typer.Argument(..., help="A folder with expected.json and html/ (benchmarks/metadata_sets.py)."),
    halves: bool = typer.Option(False, "--halves", help="Also score each half of the set."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write each extractor's answers here, as JSON."),
) -> None:
    """Score the article fields of newsflow, trafilatura and readability (titles) on one dataset."""
    console = Console(width=None if Console().is_terminal else 140)
    try:
        cases = load_cases(dataset_dir)
    except (OSError, ValueError, KeyError) as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    answers = run_all(cases)
    console.print(results_table(f"{dataset_dir.name}: {len(cases)} pages (share right; pages that give the field)",
                                cases, answers))
    if halves:
        for h in (0, 1):
            part = [c for c in cases if half(c.key) == h]
            console.print(results_table(f"half {h + 1}: {len(part)} pages", part, answers))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, by_key in answers.items():
            rows = {k: {"title": f.title, "authors": f.authors, "published": f.published and f.published.isoformat(),
                        "site": f.site} for k, f in by_key.items()}
            (out / f"{name.split()[0]}{'-short' if 'short' in name else ''}.json").write_text(
                json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
