"""One config file format (TOML) with env overrides, validated at start-up.

Precedence: init kwargs > environment (``NEWSFLOW_<SECTION>__<KEY>``) > the TOML file > defaults.
Unknown keys are errors, so a typo never silently falls back to a default; every error
names the key path (``poller.max_interval``) and the file it came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError


def _split_commas(v: Any) -> Any:
    return [s.strip() for s in v.split(",") if s.strip()] if isinstance(v, str) else v


# A list that an env var gives as "a,b,c" rather than JSON.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]

ENV_PREFIX = "NEWSFLOW_"
CONFIG_ENV = "NEWSFLOW_CONFIG"
DEFAULT_CONFIG_NAME = "newsflow.toml"


class ConfigError(Exception):
    """A bad config file, key or value. The message names the key and the file."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FeedConfig(Section):
    url: str
    name: str | None = None
    # Optional per-feed overrides of the poll interval bounds (seconds).
    min_interval: float | None = Field(default=None, gt=0)
    max_interval: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _plain_url(cls, v: Any) -> Any:
        # `feeds = ["https://example.org/feed.xml"]`: a bare url is a feed with no options.
        return {"url": v} if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// url")
        return v


class PollerConfig(Section):
    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow; news ingestion bot)"
    default_interval: float = Field(default=900.0, gt=0, description="first interval, seconds")
    min_interval: float = Field(default=300.0, gt=0)
    max_interval: float = Field(default=6 * 3600.0, gt=0)
    error_backoff_max: float = Field(default=24 * 3600.0, gt=0, description="cap of the error backoff")
    timeout: float = Field(default=20.0, gt=0)
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    per_host_concurrency: int = Field(default=1, ge=1, le=2)
    per_host_delay: float = Field(default=1.0, ge=0, description="minimum seconds between requests to one host")
    obey_robots: bool = Field(default=True, description="check article pages against their site's robots.txt")
    max_crawl_delay: float = Field(
        default=30.0, ge=0,
        description="honour a robots.txt Crawl-delay up to this many seconds between requests to a host (0: ignore it)",
    )
    concurrency: int = Field(default=32, ge=1, description="requests in flight over all hosts")
    max_entries_per_poll: int = Field(default=200, ge=1)
    seen_ids_per_feed: int = Field(default=5000, ge=10, description="how many entry ids to remember per feed")
    # Which feeds carried an article is kept so a record lists them all; an article no feed has
    # shown for this long is forgotten, so the state file does not grow for ever.
    article_memory_days: float = Field(default=90.0, gt=0, description="forget an article's feeds after this many days unseen")
    failing_after: int = Field(default=5, ge=1, description="consecutive errors before a feed is flagged failing")
    # Send requests for an origin to another one, keeping the logical url (and so the
    # article ids): {"https://example-news.blogspot.com": "http://127.0.0.1:8080"}.
    # For the demo, mirrors and benchmarks; empty in production.
    host_map: dict[str, str] = Field(default_factory=dict)
    # "i/N": this poller takes only the feeds whose host hash mod N is i (ingest/shard.py), so N
    # pollers share one feed list with no coordination. None: every feed.
    shard: str | None = None

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str | None) -> str | None:
        if v is not None:
            from newsflow.ingest.shard import parse_shard

            parse_shard(v)
        return v

    @model_validator(mode="after")
    def _bounds(self) -> "PollerConfig":
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval must not exceed max_interval")
        return self


class ExtractConfig(Section):
    min_text_chars: int = Field(default=80, ge=0, description="shorter text counts as 'no extractable text'")
    boilerplate_filter: bool = True
    site_templates: bool = True  # learn per-site chrome lines (see ingest/site_memory.py)


# The enrichers processors/enrich knows (its FACTORIES); listed here so a typo fails at load.
EnricherName = Literal["language", "stats", "keyphrases", "entities", "places", "fingerprint"]


class EnrichConfig(Section):
    enrichers: list[EnricherName] = Field(
        default_factory=lambda: ["language", "stats", "keyphrases", "entities", "places", "fingerprint"]
    )
    spacy_model: str = Field(default="en_core_web_sm", description="package name or path of a spaCy pipeline")
    max_keyphrases: int = Field(default=10, ge=1)
    near_duplicate_threshold: float = Field(default=0.85, gt=0, le=1)
    workers: int = Field(default=1, ge=1, description="enrichment processes")


class TopicsConfig(Section):
    cleaned: str = "newsflow.articles.cleaned"
    enriched: str = "newsflow.articles.enriched"
    dead_letters: str = "newsflow.dead-letters"
    partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1, description="3 on a production cluster; 1 for the local broker")


class KafkaConfig(Section):
    bootstrap_servers: CommaList = Field(default_factory=lambda: ["127.0.0.1:9092"])
    client_id: str = "newsflow"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    # A killed worker holds its partitions until the session times out; shorter means faster
    # takeover, but must stay within the broker's group.min/max.session.timeout.ms.
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000, description="longest gap between polls before eviction")
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait for the broker (connect, commit, flush)")
    # kafka-python compresses in the producer's Python thread: gzip (level 9) cost 0.42 ms a 6 kB
    # article, zstd 0.28 at about gzip's ratio, lz4 0.23 at a lower one. gzip for brokers < 2.1.
    compression: Literal["zstd", "lz4", "gzip", "none"] = Field(
        default="zstd", description="record batch compression of the producers"
    )


class BusConfig(Section):
    backend: Literal["local", "kafka"] = "local"
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    # Local bus: how many uncommitted messages a topic may hold before producers block.
    max_backlog: int = Field(default=1000, ge=1)
    batch_size: int = Field(default=200, ge=1)
    batch_seconds: float = Field(default=1.0, gt=0)
    # Consumer groups are <prefix>-enrich, <prefix>-index and <prefix>-dlq-replay: two pipelines
    # sharing one cluster (or parallel test runs) need different prefixes, or their rebalances mix.
    group_prefix: str = Field(default="newsflow", min_length=1)


class ElasticsearchConfig(Section):
    hosts: CommaList = Field(default_factory=lambda: ["http://127.0.0.1:9200"])
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    alias: str = "newsflow-articles"
    feed_status_index: str = "newsflow-feed-status"
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=0, ge=0)
    request_timeout: float = Field(default=30.0, gt=0)


class IndexConfig(Section):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)


class DaemonConfig(Section):
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 disables the HTTP endpoint")
    shutdown_timeout: float = Field(default=30.0, gt=0)
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


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
