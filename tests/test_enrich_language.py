from ingest.record import Article, Enrichment
from processors.enrich.base import primary_language
from processors.enrich.language import LanguageEnricher
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
