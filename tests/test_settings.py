"""One config format (TOML) with env overrides, validated at start-up; errors name the key."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from newsflow.core.errors import ConfigError
from newsflow.processors.config import EnricherName
from newsflow.settings import load
from newsflow.processors.enrich.chain import FACTORIES

REPO = Path(__file__).resolve().parents[1]


def test_shipped_configs_load() -> None:
    embedded = load(REPO / "config" / "newsflow.toml")
    assert embedded.bus.backend == "local" and embedded.index.backend == "sqlite"
    prod = load(REPO / "config" / "production.example.toml")
    assert prod.bus.backend == "kafka" and prod.index.backend == "elasticsearch"
    assert prod.bus.kafka.bootstrap_servers == ["kafka-1:9092", "kafka-2:9092", "kafka-3:9092"]


def test_env_overrides_file_and_splits_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[bus]\nbackend = "local"\n[poller]\ntimeout = 5\n')
    monkeypatch.setenv("NEWSFLOW_BUS__BACKEND", "kafka")
    monkeypatch.setenv("NEWSFLOW_BUS__KAFKA__BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    monkeypatch.setenv("NEWSFLOW_INDEX__ELASTICSEARCH__API_KEY", "s3cret")
    s = load(cfg)
    assert s.bus.backend == "kafka"
    assert s.poller.timeout == 5
    assert s.bus.kafka.bootstrap_servers == ["k1:9092", "k2:9092"]
    assert s.index.elasticsearch.api_key is not None and s.index.elasticsearch.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in s.model_dump_json()  # secrets are masked wherever the config is shown


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[poller]\nmax_intervall = 3\n", "poller.max_intervall: unknown key"),
        ("[poller]\ntimeout = -1\n", "poller.timeout"),
        ("[poller]\nmin_interval = 900\nmax_interval = 60\n", "min_interval must not exceed max_interval"),
        ('[[feeds]]\nurl = "file:///etc/passwd"\n', "feeds.0.url"),
        ('[enrich]\nenrichers = ["language", "sentiment"]\n', "enrich.enrichers.1"),
        ('[bus]\nbackend = "rabbitmq"\n', "bus.backend"),
        ("[index\nbackend = 1\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, named: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as exc:
        load(cfg)
    assert named in str(exc.value)
    assert str(cfg) in str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


def test_enricher_names_match_the_enrichers_that_exist() -> None:
    assert set(typing.get_args(EnricherName)) == set(FACTORIES)


def test_feeds_may_be_plain_urls_beside_tables(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'feeds = ["https://example.org/feed.xml", {url = "https://example.net/rss", name = "Net", min_interval = 600}]\n'
    )
    s = load(cfg)
    assert [f.url for f in s.feeds] == ["https://example.org/feed.xml", "https://example.net/rss"]
    assert s.feeds[0].name is None and s.feeds[1].name == "Net" and s.feeds[1].min_interval == 600


def test_a_plain_url_that_is_not_http_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('feeds = ["ftp://example.org/feed.xml"]\n')
    with pytest.raises(ConfigError, match=r"feeds\.0"):
        load(cfg)


def test_feeds_add_keeps_a_list_of_plain_urls_plain(tmp_path: Path) -> None:
    from newsflow.feedlist import add_feeds, read_feeds
    from newsflow.ingest.config import FeedConfig


    cfg = tmp_path / "c.toml"
    cfg.write_text('# mine\nfeeds = ["https://example.org/feed.xml"]\n')
    assert add_feeds(cfg, [FeedConfig(url="https://example.org/feed.xml"), FeedConfig(url="https://b.example/atom")]) == (1, 1)
    text = cfg.read_text()
    assert text.startswith("# mine") and '"https://b.example/atom"' in text and "url =" not in text
    assert [f.url for f in read_feeds(cfg)] == ["https://example.org/feed.xml", "https://b.example/atom"]
    assert [f.url for f in load(cfg).feeds] == ["https://example.org/feed.xml", "https://b.example/atom"]
