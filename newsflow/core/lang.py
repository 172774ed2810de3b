"""Language tags: one normaliser for the extractor, the enrichers and both indexes (a leaf)."""

from __future__ import annotations

import re

_PRIMARY = re.compile(r"[a-z]{2,3}")
# BCP 47's "undetermined", "multiple" and "no linguistic content" are not languages to file under.
_NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx"})


def primary_language(tag: str | None) -> str | None:
    """"en-GB", "en_US", "EN", "en, de" -> "en": the primary subtag; anything else -> None."""
    if not tag:
        return None
    primary = tag.split(",")[0].strip().replace("_", "-").split("-")[0].lower()
    return primary if _PRIMARY.fullmatch(primary) and primary not in _NOT_A_LANGUAGE else None
