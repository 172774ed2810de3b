"""Remove page chrome that survives trafilatura at the edges of an article's text.

Themes put comment prompts, pagers, share bars, tag lists, "related posts" and copyright
lines right before or after the body, sometimes inside it, and trafilatura keeps them when
they are marked up like paragraphs. At the *edges* of the text this filter removes a line
when the whole line is chrome:

* a **phrase line** is made entirely of known chrome phrases and separators
  ("Post a Comment", "Previous Post Next Post", "Share: Facebook Twitter", "0 comments");
* a **prefix line** starts with a chrome label and is short ("Tags: NATO, Russia",
  "Copyright © 2022 Example News. All rights reserved.", "Subscribe to our newsletter");
* at the end only, a **call to action** (a short line naming a newsletter, a sign-up, an
  app or a social channel: "Follow Newsbeat on Instagram and YouTube.");
* at the end only, a **trailing section**: a heading such as "Related Posts" or "Comments"
  (or a call to action) followed by nothing but a few short lines (titles and dates).

*Inside* the text only four kinds go, each unmistakable on its own: a "Read more:
<headline>" line (a related-story label with a colon, then a short title), a related box
(a "Don't miss" heading, a few headline-like lines, then the article again), markup that
leaked as text (a CMS shortcode, a bare ISO timestamp), and a second copy of the article
glued after it (structured data rendered as text).

Anything else stops the stripping, so an article sentence that merely contains "comment",
"share" or "next" ("Share prices rose 3% on Monday.") is never touched. The vocabulary is
data (``vocabulary.PHRASES``, ``vocabulary.PREFIXES``), by category and language;
``strip_chrome`` is the one function. The filters of single lines anywhere in the text
(credits, role boxes, the tail check) are ``line_filters``. Measured on real pages by
`newsflow bench extraction` (docs/extraction.md).
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from newsflow.ingest.extract.vocabulary import (
    CALLS_TO_ACTION, INNER_CATEGORIES, PHRASES, PREFIXES, SECTION_HEADINGS, PROMPT_LINES,
)

Edge = Literal["head", "tail", "inner"]

MAX_CTA_WORDS = 30
MIN_COPY_WORDS = 12  # a paragraph, for telling a second copy of the article
MIN_COPY_REPEATS = 3
MIN_SENTENCE_WORDS = 6
MAX_INNER_SECTION_LINES = 6
MAX_SEE_ALSO_WORDS = 20  # the headline after an inner "Read more:" label
MAX_LINE_CHARS = 200  # a longer line is never chrome
MAX_HEADING_CHARS = 80  # a related box's heading ("Das könnte Sie auch interessieren") is shorter
MAX_PROMPT_WORDS = 30  # a sign-up box's line, fine print included
MAX_PREFIX_WORDS = 20  # words after a prefix label
MAX_SECTION_LINES = 15  # lines a trailing section may hold after its heading
MAX_SECTION_LINE_WORDS = 16  # a related title, a date, a form field label; longer is text

# Between phrases: whitespace, bullets, arrows, pipes and the punctuation a button or
# heading carries ("Share:", "« Previous", "Next »", "Comments are closed.").
_SEP = r"[\s|·•»«›‹<>←→↑/:\-–—.,!?*#]*"
# A phrase ends at a word boundary, or where CamelCase glues two buttons ("Share to TwitterShare").
_END = r"(?:(?!\w)|(?=(?-i:[A-ZÀ-ÖØ-ÞА-ЯЁ])))"


class Removed(NamedTuple):
    line: str
    category: str
    edge: Edge


class FilterResult(NamedTuple):
    text: str
    removed: list[Removed]


def _alternation(table: dict[str, dict[str, tuple[str, ...]]]) -> str:
    groups = []
    for category, by_lang in table.items():
        # Longest first, so "post a comment" is tried before "post comments"; the full-line
        # match backtracks anyway, this only makes the common case fast.
        phrases = sorted({p for ps in by_lang.values() for p in ps}, key=len, reverse=True)
        body = "|".join(p.replace(" ?", r"\s*").replace(" ", r"\s+") for p in phrases)
        groups.append(f"(?P<{category}>{body})")
    return "|".join(groups)


_PHRASE_LINE = re.compile(rf"{_SEP}(?:(?:{_alternation(PHRASES)}){_END}{_SEP})+", re.IGNORECASE)
# A line anywhere in the text made only of labels, buttons and markers (``INNER_CATEGORIES``).
_INNER_LINE = re.compile(
    rf"{_SEP}(?:(?:{_alternation({c: PHRASES[c] for c in INNER_CATEGORIES})}){_END}{_SEP})+", re.IGNORECASE)
_PROMPT_LINE = re.compile(
    _SEP + "(?:" + "|".join(p.replace(" ", r"\s+") for ps in PROMPT_LINES.values() for p in ps) + ")", re.IGNORECASE)
_PREFIX = re.compile(rf"{_SEP}(?:{_alternation(PREFIXES)})", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)»]*\s*$")
# Markup that leaked as text: a CMS shortcode ("[button link=...]Send[/button]"), a bare
# ISO timestamp from structured data.
_MARKUP_JUNK = re.compile(r"\[(\w+)\b[^\]]*\].*\[/\1\]|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?(?:[+-]\d\d:?\d\d|Z)?")
# What a closing promo line names (``vocabulary.CALLS_TO_ACTION``).
_CTA = re.compile(rf"\b(?:{'|'.join(CALLS_TO_ACTION)})", re.IGNORECASE)


def chrome_category(line: str) -> str | None:
    """The chrome category of one line, or None when the line is (or may be) article text."""
    line = line.strip()
    if not line or len(line) > MAX_LINE_CHARS:
        return None
    m = _PHRASE_LINE.fullmatch(line)
    if m:
        return _first_group(m)
    m = _PREFIX.match(line)
    if m:
        category = _first_group(m)
        rest = line[m.end():]
        # The label must end at a word boundary: "Tagsüber ..." and "Shareholders: ..." are text.
        if rest[:1].isalnum() and m.group(0)[-1:].isalnum():
            return None
        # Without a colon the label could open a sentence ("Posted in 2019, the video ...");
        # only a call to action ("Subscribe to our newsletter.") may then end like one.
        if not m.group(0).rstrip().endswith(":") and category not in ("subscribe", "copyright") and line[-1] in ".!?":
            return None
        limit = MAX_PREFIX_WORDS + (5 if category == "copyright" else 0)
        if len(_WORD.findall(rest)) <= limit:
            return category
    return None


def _first_group(m: re.Match[str]) -> str:
    found = [(m.start(name), name) for name, value in m.groupdict().items() if value is not None]
    name = min(found)[1]
    return "comments" if name == "comment_form" else name  # a form's lines are the comments' chrome


def strip_chrome(text: str, *, inner: bool = True, calls_to_action: bool = True, inner_lines: bool = True) -> FilterResult:
    """Remove chrome lines at the start and end of ``text``, and the few unmistakable kinds
    inside it (``inner``); ``calls_to_action`` may end the text's chrome too (module doc);
    ``inner_lines``: labels, markers, buttons and prompts between paragraphs (``inner_chrome_line``).

    Returns the cleaned text (inner line breaks and blank lines as they were, edges trimmed)
    and the removed lines with their category and edge, in the order they were removed.
    """
    lines = text.split("\n")
    removed: list[Removed] = []
    start, end = 0, len(lines)

    while start < end:  # head: plain chrome lines only
        if not lines[start].strip():
            start += 1
            continue
        category = chrome_category(lines[start])
        if category is None:
            break
        removed.append(Removed(lines[start].strip(), category, "head"))
        start += 1

    while start < end:  # tail: chrome lines, then a trailing section if one ends the text
        if not lines[end - 1].strip():
            end -= 1
            continue
        category = chrome_category(lines[end - 1])
        if category is not None:
            removed.append(Removed(lines[end - 1].strip(), category, "tail"))
            end -= 1
            continue
        if calls_to_action and _call_to_action(lines[end - 1]):
            removed.append(Removed(lines[end - 1].strip(), "subscribe", "tail"))
            end -= 1
            continue
        cut = _trailing_section(lines, start, end, calls_to_action)
        if cut is None:
            break
        heading_category = chrome_category(lines[cut]) or "related"
        for i in range(end - 1, cut - 1, -1):
            if lines[i].strip():
                removed.append(Removed(lines[i].strip(), chrome_category(lines[i]) or heading_category, "tail"))
        end = cut

    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    if inner:
        end = _before_second_copy(lines, start, end, removed)
    kept: list[str] = []
    i = start
    while i < end:
        line = lines[i]
        if not inner:
            kept.append(line)
            i += 1
            continue
        span = _inner_section(lines, i, end)
        if span:
            marked = None
        elif inner_lines:
            marked = inner_chrome_line(line, prompts=calls_to_action)
        else:
            marked = "markup" if _MARKUP_JUNK.fullmatch(line.strip()) else None
        if marked:
            removed.append(Removed(line.strip(), marked, "inner"))
            if kept and not kept[-1].strip():
                kept.pop()
            i += 1
            continue
        if span or _see_also(line):
            for gone in lines[i:i + max(span, 1)]:
                if gone.strip():
                    removed.append(Removed(gone.strip(), "related", "inner"))
            if kept and not kept[-1].strip():
                kept.pop()  # with the blank line that separated it
            i += max(span, 1)
            continue
        kept.append(line)
        i += 1
    while kept and not kept[0].strip():
        kept.pop(0)
    return FilterResult("\n".join(kept), removed)


def inner_chrome_line(line: str, *, prompts: bool = True) -> str | None:
    """The category of a line that is chrome wherever it stands (module doc), else None: markup
    leaked as text, a line of advertising labels, continuation markers, player or consent
    buttons, share or comment-form words, or a prompt of a sign-up, follow, paywall or affiliate
    box (``vocabulary.PROMPT_LINES``)."""
    line = line.strip()
    if not line or len(line) > MAX_LINE_CHARS:
        return None
    if _MARKUP_JUNK.fullmatch(line):
        return "markup"
    m = _INNER_LINE.fullmatch(line)
    if m:
        return _first_group(m)
    if prompts and _PROMPT_LINE.match(line) and len(_WORD.findall(line)) <= MAX_PROMPT_WORDS:
        return "subscribe"
    return None


def _inner_section(lines: list[str], i: int, end: int) -> int:
    """Lines taken by a "Don't miss" / "Related" box inside the text, starting at ``i``: a
    related-stories heading, then only short lines that are not sentences (other stories'
    headlines), then the article again. 0 when line ``i`` heads no such box."""
    line = lines[i].strip()
    if not line or len(line) > MAX_HEADING_CHARS:  # most lines: no regex at all
        return 0
    m = _PHRASE_LINE.fullmatch(line)  # a heading made of phrases only, not a "Read more: ..." line
    if not m or _first_group(m) != "related":
        return 0
    j, titles = i + 1, 0
    while j < end and titles <= MAX_INNER_SECTION_LINES:
        nxt = lines[j].strip()
        if nxt:
            if nxt[-1] in ".!?:" or len(_WORD.findall(nxt)) > MAX_SECTION_LINE_WORDS:
                break  # the article resumes
            titles += 1
        j += 1
    if titles == 0 or titles > MAX_INNER_SECTION_LINES or j >= end:
        return 0  # a lone label, or a box that never ends: not ours to judge here
    while j > i and not lines[j - 1].strip():
        j -= 1
    return j - i


def _before_second_copy(lines: list[str], start: int, end: int, removed: list[Removed]) -> int:
    """Where a second copy of the article begins, if the text ends with one (structured data
    or a hidden print version rendered after the body): the text's last paragraphs all said
    before, each once and in the article's order, at least half as many as the article has,
    and nothing between them but short lines that are not sentences. A paragraph said again
    (a refrain, a repeated quote, "Update:" lines), even several times in a row, is no copy:
    the same paragraph twice in the run, or an earlier one after a later one, ends it. The
    lines between the article's last sentence and the copy (titles, dates, image urls of the
    same structured data) go with it. So do a third copy and more."""
    paras: list[tuple[int, str]] = []  # (line, words) of every paragraph-sized line
    first: dict[str, int] = {}  # paragraph -> index in paras of its first occurrence
    for i in range(start, end):
        words = _WORD.findall(lines[i].casefold())
        if len(words) >= MIN_COPY_WORDS:
            key = " ".join(words)
            first.setdefault(key, len(paras))
            paras.append((i, key))
    k = len(paras)
    while k > 0:  # the copy: a run at the end, each paragraph first said before the run, in order
        earlier = first[paras[k - 1][1]]
        if earlier >= k - 1 or (k < len(paras) and earlier >= first[paras[k][1]]):
            break
        k -= 1
    repeats = len(paras) - k
    own = len({key for _, key in paras[:k]})
    if not repeats or repeats < max(MIN_COPY_REPEATS, own // 2):
        return end
    for line in lines[paras[k][0]:end]:
        line = line.rstrip()
        if (len(_WORD.findall(line)) < MIN_COPY_WORDS and len(_WORD.findall(line)) >= MIN_SENTENCE_WORDS
                and _SENTENCE_END.search(line) and not line.endswith(("...", "…"))):
            return end  # a sentence among the repeats (a teaser "...": no sentence): the text goes on
    cut = paras[k][0]
    while cut > start and (len(_WORD.findall(lines[cut - 1])) < MIN_COPY_WORDS or not _SENTENCE_END.search(lines[cut - 1])):
        cut -= 1
    removed.extend(Removed(line.strip(), "duplicate", "tail") for line in lines[cut:end] if line.strip())
    return _before_second_copy(lines, start, cut, removed)  # a page may render its copy twice


def _call_to_action(line: str) -> bool:
    """A closing promo line: "Follow us on Twitter", "Subscribe to our newsletter ...",
    "Click here to get the app": short, and naming a channel or a sign-up."""
    line = line.strip()
    return bool(line) and len(_WORD.findall(line)) <= MAX_CTA_WORDS and _CTA.search(line) is not None


def _see_also(line: str) -> bool:
    """A "Read more: <other story's headline>" line, the one chrome that sits inside the text:
    a related-story label ending in a colon (or "»"), then a short headline, not a sentence."""
    line = line.strip()
    m = _PREFIX.match(line)
    if not m or _first_group(m) != "related" or m.group(0).rstrip()[-1:] not in (":", "»"):
        return False
    words = len(_WORD.findall(line[m.end():]))
    return 2 <= words <= MAX_SEE_ALSO_WORDS and line[-1] not in ".;,"


def _trailing_section(lines: list[str], start: int, end: int, calls_to_action: bool = True) -> int | None:
    """Index of a section heading ("Related Posts", "Comments") followed only by short lines
    that are not sentences (titles, dates, form labels) or are chrome themselves.

    Looks back at most MAX_SECTION_LINES non-blank lines; picks the earliest such heading,
    so "Related Posts / title / date / title / date" goes as one block.
    """
    cut = None
    seen = 0
    for i in range(end - 1, start, -1):  # never the first line: a text is not all one section
        line = lines[i].strip()
        if not line:
            continue
        category = chrome_category(line)
        if (category in SECTION_HEADINGS and _PHRASE_LINE.fullmatch(line)) or (
            calls_to_action and category in (None, "subscribe") and _call_to_action(line)
        ):
            cut = i
        elif category is None and (line[-1] == "." or len(_WORD.findall(line)) > MAX_SECTION_LINE_WORDS):
            break  # a sentence: the section (if any) starts after it
        seen += 1
        if seen > MAX_SECTION_LINES:
            break
    return cut
