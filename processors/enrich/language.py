"""Language of the article text (py3langid, normalised probabilities)."""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from ingest.record import Article, Enrichment
from processors.enrich.base import primary_language

NAME = "language"
VERSION = "1"

# Below this many characters langid is guessing ("Hello" -> Breton), so a declared language wins.
MIN_CHARS = 40
# Below this confidence a declared language wins too; without one the guess is still recorded.
MIN_CONFIDENCE = 0.5
# The first few kB decide the language; more text only costs time.
MAX_CHARS = 10_000


@functools.cache
def _identifier() -> LanguageIdentifier:
    # norm_probs: classify() returns a probability in [0, 1] instead of a raw log score.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of ``text`` over langid's 97 languages."""
    lang, prob = _identifier().classify(text[:MAX_CHARS])
    return lang, round(float(prob), 4)


class LanguageEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self) -> None:
        _identifier()  # load the model now, not on the first article

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        hint = primary_language(article.language_hint)
        sample = article.text[:MAX_CHARS].strip()
        if len(sample) < MIN_CHARS and article.title:
            sample = f"{article.title}\n{sample}".strip()
        if not any(ch.isalpha() for ch in sample):  # punctuation, numbers, emoji: nothing to detect
            out.language, out.language_confidence = hint, None
            return
        lang, prob = detect(sample)
        if hint and hint != lang and (len(sample) < MIN_CHARS or prob < MIN_CONFIDENCE):
            # Declared, not measured: no confidence to report.
            out.language, out.language_confidence = hint, None
        else:
            out.language, out.language_confidence = lang, prob
