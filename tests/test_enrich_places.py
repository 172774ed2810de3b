import pytest

from newsflow.core.record import Enrichment, Entities
from newsflow.processors.enrich.gazetteer import gazetteer, name_key
from newsflow.processors.enrich.places import PlaceEnricher, resolve_places
from tests.test_enrich_seeds import seed_article


@pytest.fixture(scope="module")
def gz():
    return gazetteer()


def test_washington_is_the_us_capital(gz):
    p = gz.resolve("Washington")
    assert (p.country_code, p.kind) == ("US", "city")
    assert p.lat == pytest.approx(38.9, abs=0.1) and p.lon == pytest.approx(-77.0, abs=0.1)
    assert gz.resolve("Washington, D.C.") == p
    state = gz.resolve("Washington State")
    assert (state.country_code, state.kind) == ("US", "region")


@pytest.mark.parametrize(
    "name,code",
    [("US", "US"), ("U.S.", "US"), ("USA", "US"), ("United States", "US"), ("the United States", "US"),
     ("America", "US"), ("Russia", "RU"), ("Britain", "GB"), ("UK", "GB"), ("Great Britain", "GB"),
     ("Ukraine", "UA"), ("Norway", "NO"), ("Georgia", "GE"), ("Burma", "MM"), ("Kosovo", "XK"), ("Türkiye", "TR")],
)
def test_countries_and_aliases(gz, name, code):
    p = gz.resolve(name)
    assert (p.country_code, p.kind) == (code, "country")
    assert p.lat is not None and p.lon is not None


def test_country_coordinates_are_the_capital(gz):
    ru = gz.resolve("Russia")
    assert ru.lat == pytest.approx(55.75, abs=0.1) and ru.lon == pytest.approx(37.62, abs=0.1)  # Moscow


def test_cities(gz):
    for name, code in [("Brussels", "BE"), ("Moscow", "RU"), ("Kyiv", "UA"), ("Kiev", "UA"), ("Paris", "FR"),
                       ("New York", "US"), ("Bombay", "IN"), ("St. Petersburg", "RU")]:
        p = gz.resolve(name)
        assert (p.country_code, p.kind) == (code, "city"), name
    assert gz.resolve("Kiev").name == "Kyiv"


def test_regions_and_unknowns(gz):
    assert (gz.resolve("Texas").kind, gz.resolve("Texas").country_code) == ("region", "US")
    assert gz.resolve("Europe").kind == "region" and gz.resolve("Europe").lat is not None
    assert gz.resolve("Scotland").country_code == "GB"
    assert gz.resolve("Xyzzyland") is None
    assert gz.resolve("it") is None  # codes count only when written in capitals
    assert gz.resolve("") is None


def test_resolve_places_dedupes_by_place():
    places = resolve_places(["US", "Washington", "United States", "Russia", "Nowhere Special", "U.S."])
    assert [p.name for p in places] == ["United States", "Washington", "Russia"]


def test_name_key():
    assert name_key("Washington, D.C.") == name_key("washington dc")
    assert name_key("São Paulo") == "sao paulo"
    assert name_key("The Hague") == "hague"


def test_seed_article_places():
    locations = ["US", "Washington", "Ukraine", "Russia", "United States", "Brussels", "Norway"]
    out = Enrichment(entities=Entities(locations=locations))
    PlaceEnricher().enrich(seed_article("post-us-russia-talks"), out)
    assert {p.country_code for p in out.places} == {"US", "UA", "RU", "BE", "NO"}
    assert len({p.name for p in out.places}) == len(out.places)
