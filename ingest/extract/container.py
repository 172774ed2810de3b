"""A check on trafilatura's choice of container, against readability's reading of the page.

trafilatura's filters and newsflow's remove lines; neither helps when trafilatura read the wrong
block of the page in the first place. Two failures of that kind have a trace in the answer
itself, compared with readability's reading (which trafilatura computes on every page as its
safety net, ``trafilatura_adapter``; readability scores blocks by text density, commas and link
density, so its reading is the page's densest article block):

* **a surplus of teasers**: the text is at least ``MIN_SURPLUS_RATIO`` times readability's
  reading, holds nearly all of it, and what lies outside that reading (before its first line
  and after its last) is nearly all headline-like lines (short, no sentence end: recommended
  stories, a gallery's captions, a player's buttons) or chrome lines. The lines from the first
  to the last that readability confirms stay, the inner lines readability lacks with them;
* **cut short**: readability's reading is at least ``MIN_SHORT_RATIO`` times the text, holds
  nearly all of it, and what it adds is nearly all sentences: trafilatura stopped inside the
  article. readability's paragraphs replace the text.

Each test needs nothing but the two word counts to rule a page out, so the paragraphs are built
only for the few pages where a count fires. Thresholds are where neither test costs a snippet
on either half of the two development sets (docs/extraction.md, "Tried and left out": switching
on weaker evidence loses).
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from lxml.html import HtmlElement

from newsflow.ingest.extract.chrome import Removed, chrome_category, inner_chrome_line

MIN_SURPLUS_RATIO = 2.0
MIN_SHORT_RATIO = 2.0
MIN_READING_WORDS = 80  # a shorter reading is no evidence of where the article is
MIN_TEXT_WORDS = 20
MIN_HELD_SHARE = 0.9  # of one text that the other holds, for both tests
MIN_TEASER_SHARE = 0.85  # of the lines outside readability's reading, for a surplus of teasers
MIN_SENTENCE_SHARE = 0.9  # of the words readability adds, for a text cut short
MAX_HEADLINE_WORDS = 15

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…:][\"'”’)»]*\s*$")
# The elements whose text is one paragraph of readability's reading.
_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt", "figcaption", "td", "th"})

Verdict = Literal["teasers", "cut short"]


class Checked(NamedTuple):
    text: str
    verdict: Verdict | None
    removed: list[Removed]


def check_container(text: str, reading: HtmlElement, reading_text: str) -> Checked:
    """``text`` as it stands, trimmed to readability's reading, or replaced by it (module doc).
    ``reading_text`` is the reading's text as one string, which the caller has anyway."""
    words = len(text.split())  # whitespace words: a cheap count for ruling pages out
    reading_words = len(reading_text.split())
    if words < MIN_TEXT_WORDS or reading_words < MIN_READING_WORDS:
        return Checked(text, None, [])
    if words >= MIN_SURPLUS_RATIO * reading_words:
        return _teaser_surplus(text, reading_paragraphs(reading))
    if reading_words >= MIN_SHORT_RATIO * words:
        return _cut_short(text, reading_paragraphs(reading), words)
    return Checked(text, None, [])


def reading_paragraphs(reading: HtmlElement) -> list[str]:
    """readability's reading as paragraphs: the text of each outermost block element."""
    found: list[str] = []
    for el in reading.iter(*_BLOCKS):
        if any(parent.tag in _BLOCKS for parent in el.iterancestors()):
            continue
        paragraph = " ".join(" ".join(el.itertext()).split())
        if paragraph:
            found.append(paragraph)
    if not found:
        whole = " ".join(" ".join(reading.itertext()).split())
        found = [whole] if whole else []
    return found


def _key(line: str) -> str:
    return " " + " ".join(_WORD.findall(line.casefold())) + " "


def _joined(lines: list[str]) -> str:
    """Lines as one word sequence, for finding a line's words in it (``_key``)."""
    return " " + " ".join(" ".join(_WORD.findall(line.casefold())) for line in lines) + " "


def _count(lines: list[str]) -> int:
    return sum(len(_WORD.findall(line)) for line in lines)


def _headline_like(line: str) -> bool:
    line = line.strip()
    short = len(_WORD.findall(line)) <= MAX_HEADLINE_WORDS and not _SENTENCE_END.search(line)
    return short or chrome_category(line) is not None or inner_chrome_line(line) is not None


def _teaser_surplus(text: str, paragraphs: list[str]) -> Checked:
    lines = text.split("\n")
    ours = _joined(lines)
    if _count([p for p in paragraphs if _key(p) in ours]) < MIN_HELD_SHARE * _count(paragraphs):
        return Checked(text, None, [])  # readability read another block: no evidence either way
    theirs = _joined(paragraphs)
    confirmed = [i for i, line in enumerate(lines) if _WORD.search(line) and _key(line) in theirs]
    if not confirmed:
        return Checked(text, None, [])
    first, last = confirmed[0], confirmed[-1]
    outside = [line for line in lines[:first] + lines[last + 1:] if _WORD.search(line)]
    if not outside or sum(map(_headline_like, outside)) < MIN_TEASER_SHARE * len(outside):
        return Checked(text, None, [])
    removed = [Removed(line.strip(), "container", "head") for line in lines[:first] if line.strip()]
    removed += [Removed(line.strip(), "container", "tail") for line in lines[last + 1:] if line.strip()]
    return Checked("\n".join(lines[first:last + 1]), "teasers", removed)


def _cut_short(text: str, paragraphs: list[str], words: int) -> Checked:
    lines = [line for line in text.split("\n") if _WORD.search(line)]
    theirs = _joined(paragraphs)
    if _count([line for line in lines if _key(line) in theirs]) < MIN_HELD_SHARE * words:
        return Checked(text, None, [])
    ours = _joined(lines)
    added = [p for p in paragraphs if _key(p) not in ours]
    added_words = _count(added)
    if not added_words or _count([p for p in added if not _headline_like(p)]) < MIN_SENTENCE_SHARE * added_words:
        return Checked(text, None, [])
    return Checked("\n\n".join(paragraphs), "cut short", [])
