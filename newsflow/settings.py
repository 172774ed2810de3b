"""The application's settings: one TOML file with env overrides, validated at start-up.

Each layer owns its section beside its code (ingest/config.py, processors/config.py,
bus/config.py, index/config.py, newsflow/daemon/config.py); this module only composes them and
reads the file and the environment.

Precedence: init kwargs > environment (``NEWSFLOW_<SECTION>__<KEY>``) > the TOML file > defaults.
Unknown keys are errors, so a typo never silently falls back to a default; every error
names the key path (``poller.max_interval``) and the file it came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from pydantic_settings.exceptions import SettingsError

from newsflow.bus.config import BusConfig
from newsflow.core.errors import ConfigError
from newsflow.daemon.config import DaemonConfig
from newsflow.index.config import IndexConfig
from newsflow.ingest.config import ArchiveConfig, ExtractConfig, FeedConfig, PollerConfig
from newsflow.processors.config import EnrichConfig

ENV_PREFIX = "NEWSFLOW_"
CONFIG_ENV = "NEWSFLOW_CONFIG"
DEFAULT_CONFIG_NAME = "newsflow.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_DATA_HOME", "~/.local/share")).expanduser() / "newsflow")
    feeds: list[FeedConfig] = Field(default_factory=list)
    poller: PollerConfig = Field(default_factory=PollerConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    enrich: EnrichConfig = Field(default_factory=EnrichConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)

    # Set by load(); not a config key.
    _source: Path | None = None

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(v).expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CURRENT_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def state_db(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def index_db(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def bus_db(self) -> Path:
        return self.data_dir / "bus.sqlite3"


_CURRENT_FILE: dict[str, Path | None] = {"path": None}


def default_config_path() -> Path | None:
    """``$NEWSFLOW_CONFIG``, else ``./newsflow.toml``, else ``~/.config/newsflow/newsflow.toml``."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    for candidate in (Path.cwd() / DEFAULT_CONFIG_NAME, Path("~/.config/newsflow").expanduser() / DEFAULT_CONFIG_NAME):
        if candidate.is_file():
            return candidate
    return None


def _format_errors(exc: ValidationError, where: str) -> str:
    lines = [f"invalid configuration ({where}):"]
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        value = err.get("input")
        shown = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def load(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and validate the config. Raises ConfigError with messages that name the bad keys."""
    import tomllib

    file = Path(path).expanduser() if path is not None else default_config_path()
    where = str(file) if file else "defaults and environment"
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"config file not found: {file}")
        try:
            tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
    _CURRENT_FILE["path"] = file
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from exc
    except SettingsError as exc:  # e.g. an env var that is not valid JSON for a nested key
        raise ConfigError(f"invalid configuration ({where}): {exc}") from exc
    finally:
        _CURRENT_FILE["path"] = None
    settings._source = file
    return settings
