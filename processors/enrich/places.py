"""The places enricher: the entities enricher's location names, resolved by the gazetteer
(processors/enrich/gazetteer.py: sources, cache, and the order ambiguous names are resolved in)."""

from __future__ import annotations

from newsflow.core.record import Article, Enrichment, Place
from newsflow.processors.enrich.gazetteer import gazetteer

NAME = "places"
VERSION = "1"


def resolve_places(names: list[str]) -> list[Place]:
    """Resolved places for location names, deduplicated by place name, first-seen order."""
    gz = gazetteer()
    out: dict[str, Place] = {}
    for name in names:
        place = gz.resolve(name)
        if place is not None:
            out.setdefault(place.name, place)
    return list(out.values())


class PlaceEnricher:
    """Needs the entities enricher to have run before it (the chain orders them)."""

    NAME = NAME
    VERSION = VERSION

    def __init__(self) -> None:
        gazetteer()  # build the tables at start-up, not on the first article

    @property
    def version(self) -> str:
        return VERSION

    def enrich(self, article: Article, out: Enrichment) -> None:
        out.places = resolve_places(out.entities.locations)
