"""What every layer's config section is built from (a leaf: imports nothing of newsflow).

Each layer defines its own section beside its code (ingest/config.py, bus/config.py, ...); the
application's settings (newsflow/settings.py) only compose them and read the file and environment.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_settings import NoDecode


class Section(BaseModel):
    """Unknown keys are errors, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _split_commas(v: Any) -> Any:
    return [s.strip() for s in v.split(",") if s.strip()] if isinstance(v, str) else v


# A list that an env var gives as "a,b,c" rather than JSON.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
