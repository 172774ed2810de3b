"""The headline and the lead around an article's body text.

The title is a field of its own (``article_title``): the headline the page shows, also when its
og:title or <title> carry the site's name, a section or an SEO variant beside it. Many themes
put the h1 at the top of the body, sometimes after a kicker or a bare link, and trafilatura
keeps it (``drop_leading_title``). The page spells its headline in several places
(``page_headlines``). On pages in a language whose news count the lead as the article's first
paragraph, the lead trafilatura skipped is put back (``shown_lead``).
"""

from __future__ import annotations

import re
import unicodedata

from lxml.html import HtmlElement

from newsflow.ingest.extract.chrome import Removed

_WORDS = re.compile(r"\w+")
_BARE_URL = re.compile(r"https?://\S+")
MAX_HEADLINE_WORDS = 40  # a longer first line is a paragraph, whatever the title says
MAX_KICKER_WORDS = 6  # "Opinion", "Entermedia news": a label above the headline
MIN_LEAD_WORDS = 8  # a shorter description is a tagline, not a lead
LEAD_MATCH_WORDS = 12
# Languages whose news treat the lead as the headline's subtitle (English "dek", "standfirst"),
# not as the article's first paragraph (German "Vorspann", French "chapô", Spanish
# "entradilla", Polish "lead"): there it stays out of the text (it is the summary anyway).
# Chosen on the two development sets, whose truths follow these two conventions (docs/extraction.md).
LEAD_NOT_TEXT_LANGUAGES = ("en",)
_NOT_SHOWN = frozenset({"meta", "script", "style", "head", "title", "noscript", "template"})
# Between a title and the site's name or section in og:title / <title>: "Headline | Site",
# "Site - Headline", "Headline » Local » News » Site".
_TITLE_PARTS = re.compile(r"\s+(?:[|\-\u2013\u2014\u00b7\u00bb/:]{1,2})\s+|\s*[\uff5c\u00bb]\s*")
_TLD = re.compile(r"\.(?:com|net|org|co\.uk|co|info|news|gg|[a-z]{2})$")
MAX_SECTION_WORDS = 3  # "Local", "CNN Politics": a part of a title this short beside the headline is a label
MAX_H1S = 3


def title_words(title: str | None) -> list[str]:
    """A title as the token list the headline tests compare."""
    return _WORDS.findall((title or "").casefold())


def article_title(
    title: str | None, tree: HtmlElement, metas: dict[str, str], *,
    structured_headline: str | None = None, site_names: tuple[str | None, ...] = (),
) -> str | None:
    """The article's headline, from ``title`` (trafilatura's: og:title, else the h1 or <title>).

    1. An h1 the page's JSON-LD headline confirms: two parts of the page agree.
    2. An h1 that is all or the larger part of one of the page's titles (og:title,
       twitter:title, <title>, JSON-LD headline, ``title``; each also without the site's name):
       "Headline | CNN Politics", "Analysis: Headline", "TechCrunch | Headline", "Headline-新华网".
    3. ``title`` without the site's name (``site_names``) at either end, and without the
       breadcrumb labels beside it ("Headline » Local » News » Site").
    """
    # A theme's logo or blog name in an h1 is the site's name, not the headline; so is a
    # one-word section name ("News", "Politics").
    keys = _site_keys(site_names)
    h1s = [h for h in (_shown(e) for e in _first_h1s(tree)) if h and _headline_sized(title_words(h))
           and site_key(h) not in keys]
    if structured_headline:
        confirmed = title_words(structured_headline)
        for h1 in h1s:
            if title_words(h1) == confirmed:
                return _without_site(title if title_words(title) == confirmed else h1, site_names)
    titles = [t for t in (title, metas.get("og:title"), metas.get("twitter:title"), _head_title(tree),
                          structured_headline) if t]
    titles += [_without_site(t, site_names) for t in titles]
    for h1 in h1s:
        words = title_words(h1)
        if words == title_words(title):
            return _without_site(title, site_names)
        if any(_larger_part(words, title_words(t), keys) for t in titles):
            return _without_site(h1, site_names)
    return _without_site(title, site_names) if title else None


def _headline_sized(words: list[str]) -> bool:
    return 0 < len(words) <= MAX_HEADLINE_WORDS and (len(words) > 1 or (len(words[0]) >= 6 and not words[0].isascii()))


def _site_keys(site_names: tuple[str | None, ...]) -> list[str]:
    return [k for k in map(site_key, site_names) if len(k) >= 3]


def _is_site(key: str, keys: list[str]) -> bool:
    return bool(key) and any(key == k or key.startswith(k) or k.startswith(key) and len(key) >= 3 for k in keys)


def _first_h1s(tree: HtmlElement) -> list[HtmlElement]:
    found = []
    for h1 in tree.iter("h1"):
        found.append(h1)
        if len(found) >= MAX_H1S:
            break
    return found


def _shown(el: HtmlElement) -> str | None:
    text = unicodedata.normalize("NFC", " ".join(el.text_content().split()))
    return text or None


def _head_title(tree: HtmlElement) -> str | None:
    el = tree.find(".//title")
    return _shown(el) if el is not None else None


def _larger_part(part: list[str], whole: list[str], site_keys: list[str]) -> bool:
    """``part`` is a run of ``whole``'s words holding at least half its characters. At the end
    of ``whole``, what comes before it must be the site's name or a one-word label ("TechCrunch
    | Headline", "Opinion | Headline"): "Headline | Blog name" is the blog's name in an h1."""
    n = len(part)
    if not part or n > len(whole) or 2 * sum(map(len, part)) < sum(map(len, whole)):
        return False
    for i in range(len(whole) - n + 1):
        if whole[i:i + n] == part:
            before = whole[:i]
            if i and i + n == len(whole) and len(before) > 1 and not _is_site("".join(before), site_keys):
                continue
            return True
    return False


def site_key(name: str | None) -> str:
    """A site's name as the title compares it: letters and digits, no "www." or ".com"."""
    name = unicodedata.normalize("NFC", name or "").casefold().strip().removeprefix("www.")
    return "".join(_WORDS.findall(_TLD.sub("", name)))


def _without_site(title: str, site_names: tuple[str | None, ...]) -> str:
    keys = _site_keys(site_names)
    parts = _TITLE_PARTS.split(title)
    if len(parts) < 2 or not keys:
        return title

    def is_site(part: str) -> bool:
        return _is_site(site_key(part), keys)

    start, end = 0, len(parts)
    cut = False
    while end - start > 1 and is_site(parts[end - 1]):
        end, cut = end - 1, True
    while end - start > 1 and is_site(parts[start]):
        start, cut = start + 1, True
    if not cut:
        return title
    kept = parts[start:end]
    longest = max(kept, key=lambda p: len(title_words(p)))
    if len(kept) > 1 and all(len(title_words(p)) <= MAX_SECTION_WORDS for p in kept if p is not longest):
        return longest.strip()
    # Rebuild from the original string: the separators between the kept parts stay as written.
    first, last = kept[0], kept[-1]
    return title[title.index(first): title.rindex(last) + len(last)].strip()


def page_headlines(tree: HtmlElement, title: str | None, metas: dict[str, str]) -> list[list[str]]:
    """The page's headline as its parts spell it (token lists): trafilatura's title, <title>,
    og:title and the first h1s. <title> usually carries a " - Site name" suffix, hence prefixes."""
    found = [title, metas.get("og:title"), metas.get("twitter:title")]
    head_title = tree.find(".//title")
    if head_title is not None:
        found.append(head_title.text_content())
    for i, h1 in enumerate(tree.iter("h1")):
        if i >= 3:
            break
        found.append(h1.text_content())
    return [toks for toks in (_WORDS.findall(t.casefold()) for t in found if t) if toks]


def is_headline(line: str, headlines: list[list[str]]) -> bool:
    toks = _WORDS.findall(line.casefold())
    if not toks or len(toks) > MAX_HEADLINE_WORDS:
        return False
    # A one- or two-word line matches only a whole title ("News" is no headline of "News of...").
    return any(toks == h or (len(toks) >= 3 and h[: len(toks)] == toks) for h in headlines)


def drop_leading_title(text: str, headlines: list[list[str]]) -> tuple[str, list[Removed]]:
    """The title is a field of its own; many themes put the h1 at the top of the body,
    sometimes after a kicker or a bare link (a share url)."""
    lines = text.split("\n")
    shown = [i for i, line in enumerate(lines) if line.strip()][:2]
    for n, i in enumerate(shown):
        if not is_headline(lines[i], headlines):
            continue
        before = lines[shown[0]].strip() if n else ""
        if n and not (_BARE_URL.fullmatch(before) or len(_WORDS.findall(before)) <= MAX_KICKER_WORDS):
            break  # a sentence before it: the "headline" is a quote of it inside the text
        removed = [Removed(lines[k].strip(), "title", "head") for k in shown[: n + 1]]
        return "\n".join(lines[i + 1:]).lstrip("\n"), removed
    return text, []


def shown_lead(tree: HtmlElement, description: str | None, text: str, headlines: list[list[str]]) -> str | None:
    """The lead (teaser, standfirst, chapô) the page shows and the text lacks, as shown.

    trafilatura skips the lead when it sits in its own box above the body. The page's meta
    description is (nearly always) that lead: its first words locate the element on the
    page; the smallest element holding its first ``LEAD_MATCH_WORDS`` words, if not much
    longer than the description, is the lead. None when the text has it already, or the page
    does not show it (a description written for search engines only).
    """
    desc = _WORDS.findall((description or "").casefold())
    if len(desc) < MIN_LEAD_WORDS:
        return None
    head = " ".join(desc[:LEAD_MATCH_WORDS])
    if head in " ".join(_WORDS.findall(text.casefold())):
        return None
    start = re.compile(r"\W+".join(re.escape(w) for w in desc[:4]), re.IGNORECASE)
    el = None
    for e in tree.iter():
        if not isinstance(e.tag, str) or e.tag in _NOT_SHOWN:
            continue
        if e.text and start.search(e.text):
            el = e
            break
        if e.tail and start.search(e.tail):  # "<p><b>Berlin.</b> Die ...": the words follow a child
            el = e.getparent()
            break
    while el is not None:
        words = _WORDS.findall(el.text_content().casefold())
        if len(words) > 3 * len(desc) + 50:  # a container: the description's words are scattered
            return None
        if head in " ".join(words):
            lead = " ".join(el.text_content().split())
            # A description that is the headline: the title is a field of its own.
            return None if el.tag == "h1" or is_headline(lead, headlines) else unicodedata.normalize("NFC", lead)
        el = el.getparent()
    return None


def lead_is_text(language: str | None) -> bool:
    """Whether the page's news count the lead as the article's first paragraph (module doc)."""
    return language not in (None, *LEAD_NOT_TEXT_LANGUAGES)
