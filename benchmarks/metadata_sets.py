"""The metadata benchmark's development set, built from peer projects' test data.

``python -m benchmarks.metadata_sets OUT --goose3 DIR --newspaper4k DIR`` reads the test pages and
expected values of a checkout of goose3 (``tests/data/``, Apache-2.0) and of newspaper4k
(``tests/data/html`` and ``tests/data/metadata``, MIT), and writes them in one layout
(``benchmarks.metadata.load_cases`` reads it)::

    OUT/expected.json    key -> {source, test, url, title, title_also, authors, published, site}
    OUT/html/<key>.html.gz
    OUT/README.md        where each part came from (repository, commit, licence), and the review

A field the peer does not give is null and is not scored. ``--goose3-commit`` and
``--newspaper4k-commit`` name the commits read, for the README.

What is kept:

* goose3: every test whose expectations name a title, authors or a publish date (``title``,
  ``authors``, ``publish_date``; the JSON-LD a ``schema`` test expects gives headline, author
  names, datePublished, publisher), except tests of a goose configuration option (``*config*``)
  and empty expected titles (goose's way of saying "none found");
* newspaper4k: every page of ``tests/data/metadata``: ``title``, ``authors``, ``publish_date``,
  ``meta_site_name`` (an empty list or string means "none found": not scored);
* not kept: pages with fewer than ``MIN_BODY_WORDS`` words in their body (unit fixtures that
  are a head of meta tags: no article, so no metadata to compare), and second copies of a page
  (the same bytes under two tests: their expectations are merged, the first test's winning).

newspaper4k's expectations are snapshots of its own output, not hand-written; ``REVIEW`` corrects
the ones that are plainly its own mistakes, each with its reason, and ``title_also`` lists a
second acceptable title where the page shows a headline other than the peer's pick.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import lxml.html

MIN_BODY_WORDS = 50
_WORD = re.compile(r"\w+")

# key -> corrected fields and why. Reviewed against the page itself (its byline, its JSON-LD).
REVIEW: dict[str, dict[str, Any]] = {
    "newspaper4k-wired_001": {
        "authors": ["Tom Bennett"],
        "why": "the byline and JSON-LD name Tom Bennett; the other nine are authors of linked stories",
    },
    "newspaper4k-cnn_002": {
        "authors": ["Jeremy Herb", "Lauren del Valle", "Kara Scannell"],
        "why": "the byline and JSON-LD name three; Douglas Wood is only in <meta name=author>, not in the byline",
    },
    "newspaper4k-yna_co_kr": {"authors": None, "why": "no author on the page; 'www.facebook.com' is the publisher's link"},
    "newspaper4k-japanese_article": {
        "authors": None, "why": "the JSON-LD author is the publisher (an organisation), not the byline",
    },
    "newspaper4k-article_with_divs": {"authors": None, "why": "'LinkNaija' is the site's name, not a byline"},
    "newspaper4k-time_001": {
        "title_also": ["We Need Geoengineering to Stop Out of Control Warming, Warns Climate Scientist James Hansen"],
        "why": "the headline shown (h1, JSON-LD headline) differs from the <title> the peer took",
    },
    "newspaper4k-cnn_001": {
        "title_also": ["The nonstop sparring match between the conservative justice and liberal Biden attorney at the"
                       " Supreme Court"],
        "why": "the headline shown (h1, JSON-LD headline) differs from the <title> the peer took",
    },
    "newspaper4k-cnn_test_nlp": {
        "title_also": ["Gates on Tillerson and Russia: \u2018Being friendly doesn\u2019t make you friends\u2019"],
        "why": "the headline shown (h1, JSON-LD headline) differs from the <title> the peer took",
    },
}
# The same page as another test (cleveland.com1), with a byline made of page words
# ("National Desk", "Print", "on December", "at PM", ...).
DROP = {"newspaper4k-video_article_01": "a second copy of cleveland.com1, its authors made of page words"}


def body_words(html: bytes) -> int:
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return 0
    for el in tree.xpath("//script|//style|//noscript"):
        el.drop_tree()
    body = tree.find(".//body")
    return len(_WORD.findall(body.text_content())) if body is not None else 0


def _case(source: str, test: str, url: str | None, **fields: Any) -> dict[str, Any]:
    case = {"source": source, "test": test, "url": url or None, "title": None, "title_also": [], "authors": None,
            "published": None, "site": None}
    case.update({k: v for k, v in fields.items() if v not in (None, "", [])})
    return case


def _schema_fields(schema: dict[str, Any]) -> dict[str, Any]:
    authors = schema.get("author") or []
    authors = authors if isinstance(authors, list) else [authors]
    # An organisation as author is the publisher, not a byline (as in REVIEW).
    names = [a.get("name") if isinstance(a, dict) else a for a in authors
             if not (isinstance(a, dict) and "Organization" in str(a.get("@type")))]
    publisher = schema.get("publisher")
    return {"title": schema.get("headline"), "authors": [n for n in names if n],
            "published": schema.get("datePublished"),
            "site": publisher.get("name") if isinstance(publisher, dict) else None}


def goose3_cases(root: Path) -> dict[str, tuple[dict[str, Any], bytes]]:
    found: dict[str, tuple[dict[str, Any], bytes]] = {}
    for spec in sorted((root / "tests" / "data").glob("*/*.json")):
        page = spec.with_suffix(".html")
        if "config" in spec.stem or not page.exists():
            continue
        data = json.loads(spec.read_text(encoding="utf-8"))
        expected = data.get("expected") or {}
        fields: dict[str, Any] = {}
        if isinstance(data.get("schema"), dict):
            fields = _schema_fields(data["schema"])
        if expected.get("title"):
            fields["title"] = expected["title"]
        if expected.get("authors"):
            fields["authors"] = expected["authors"]
        if expected.get("publish_date"):
            fields["published"] = expected["publish_date"]
        if not any(fields.get(k) for k in ("title", "authors", "published")):
            continue
        test = str(spec.relative_to(root))
        found[f"goose3-{spec.stem.removeprefix('test_')}"] = (
            _case("goose3", test, data.get("url") or expected.get("final_url"), **fields), page.read_bytes())
    return found


def newspaper4k_cases(root: Path) -> dict[str, tuple[dict[str, Any], bytes]]:
    found: dict[str, tuple[dict[str, Any], bytes]] = {}
    data_dir = root / "tests" / "data"
    for spec in sorted((data_dir / "metadata").glob("*.json")):
        page = data_dir / "html" / f"{spec.stem}.html"
        if not page.exists():
            continue
        data = json.loads(spec.read_text(encoding="utf-8"))
        published = data.get("publish_date")
        found[f"newspaper4k-{spec.stem}"] = (_case(
            "newspaper4k", str(spec.relative_to(root)), data.get("url"), title=data.get("title"),
            authors=data.get("authors"), published=str(published) if published else None,
            site=data.get("meta_site_name"),
        ), page.read_bytes())
    return found


def build(out: Path, sources: dict[str, tuple[Path, str | None]]) -> dict[str, dict[str, Any]]:
    readers = {"goose3": goose3_cases, "newspaper4k": newspaper4k_cases}
    expected: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}  # page digest -> key
    skipped: list[str] = []
    (out / "html").mkdir(parents=True, exist_ok=True)
    for name, (root, _commit) in sources.items():
        for key, (case, html) in readers[name](root).items():
            if key in DROP:
                skipped.append(f"{key}: {DROP[key]}")
                continue
            if body_words(html) < MIN_BODY_WORDS:
                skipped.append(f"{key}: fewer than {MIN_BODY_WORDS} words in its body")
                continue
            digest = hashlib.sha256(html).hexdigest()
            if digest in seen:  # the same page under another test: merge, the first one winning
                first = expected[seen[digest]]
                for field, value in case.items():
                    if first.get(field) in (None, []) and value not in (None, []):
                        first[field] = value
                skipped.append(f"{key}: the same page as {seen[digest]} (expectations merged)")
                continue
            seen[digest] = key
            review = REVIEW.get(key, {})
            case.update({k: v for k, v in review.items() if k != "why"})
            if review:
                case["review"] = review["why"]
            expected[key] = case
            (out / "html" / f"{key}.html.gz").write_bytes(gzip.compress(html, mtime=0))
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    (out / "README.md").write_text(_readme(sources, expected, skipped), encoding="utf-8")
    return expected


def _readme(sources: dict[str, tuple[Path, str | None]], expected: dict[str, Any], skipped: list[str]) -> str:
    licences = {"goose3": ("github.com/goose3/goose3", "Apache-2.0 (LICENSE.txt)"),
                "newspaper4k": ("github.com/AndyTheFactory/newspaper4k", "MIT (LICENSE)")}
    lines = ["# Metadata development set", "",
             "Test pages and expected metadata of two open extractors' test suites, in the layout of",
             "`benchmarks/metadata.py` (built by `python -m benchmarks.metadata_sets`, whose docstring says what",
             "is kept). Each page and value is the peer's, under the peer's licence:", ""]
    for name, (_root, commit) in sources.items():
        repo, licence = licences[name]
        count = sum(1 for c in expected.values() if c["source"] == name)
        lines.append(f"- {name}: {repo} at commit {commit or 'unknown'}, `tests/data/`; licence {licence}; {count} pages")
    lines += ["", "Corrections after review (also in each entry's `review`):", ""]
    lines += [f"- {key}: {case['review']}" for key, case in sorted(expected.items()) if case.get("review")]
    lines += ["", "Left out:", ""] + [f"- {s}" for s in skipped] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--goose3", type=Path, required=True, help="a checkout of goose3")
    parser.add_argument("--goose3-commit")
    parser.add_argument("--newspaper4k", type=Path, required=True, help="a checkout of newspaper4k")
    parser.add_argument("--newspaper4k-commit")
    args = parser.parse_args(argv)
    cases = build(args.out, {"goose3": (args.goose3, args.goose3_commit),
                             "newspaper4k": (args.newspaper4k, args.newspaper4k_commit)})
    print(f"{len(cases)} pages in {args.out}")


if __name__ == "__main__":
    main()
