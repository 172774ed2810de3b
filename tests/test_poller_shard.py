"""poller.shard = "i/N": N pollers split one feed list, each feed to exactly one of them."""

from __future__ import annotations

import pytest

from newsflow.ingest.feedstate import FeedStateStore
from newsflow.ingest.fetcher import Fetcher
from newsflow.ingest.poller import Poller
from newsflow.ingest.shard import parse_shard, shard_of, take_shard
from newsflow.core.errors import ConfigError
from newsflow.ingest.config import FeedConfig, PollerConfig
from newsflow.settings import load


def _feeds(n: int) -> list[FeedConfig]:
    return [FeedConfig(url=f"https://site{k % 601}.example/feed/{k}.xml") for k in range(n)]


def test_shards_partition_the_feeds_stably_and_evenly():
    feeds = _feeds(3000)
    shards = [take_shard(feeds, f"{i}/3") for i in range(3)]
    urls = [{f.url for f in s} for s in shards]
    assert set().union(*urls) == {f.url for f in feeds}  # every feed has an owner
    assert sum(len(u) for u in urls) == len(feeds)  # and only one
    assert all(800 < len(u) < 1200 for u in urls), [len(u) for u in urls]
    assert shard_of(feeds[0].url, 3) == shard_of(feeds[0].url, 3)  # not Python's salted hash: see below
    assert shard_of("https://a.example/feed", 1000) == int.from_bytes(
        __import__("hashlib").blake2b(b"https://a.example/feed", digest_size=8).digest(), "big") % 1000


def test_every_feed_of_a_host_goes_to_one_poller():
    """Per-host politeness holds across pollers: no site is polled by two of them."""
    feeds = _feeds(3000)
    owner = {}
    for i in range(4):
        for f in take_shard(feeds, f"{i}/4"):
            host = f.url.split("/")[2]
            assert owner.setdefault(host, i) == i, host


def test_no_shard_means_every_feed():
    feeds = _feeds(10)
    assert take_shard(feeds, None) == feeds
    assert take_shard(feeds, "0/1") == feeds


@pytest.mark.parametrize("bad", ["3/3", "-1/2", "1", "a/b", "1/0", ""])
def test_bad_shard_specs_are_refused(bad):
    with pytest.raises(ValueError, match="i/N"):
        parse_shard(bad)


def test_config_key_is_checked_and_named(tmp_path):
    path = tmp_path / "newsflow.toml"
    path.write_text('[poller]\nshard = "2/2"\n')
    with pytest.raises(ConfigError, match="poller.shard"):
        load(path)
    path.write_text('[poller]\nshard = "1/2"\n')
    assert load(path).poller.shard == "1/2"


def test_poller_takes_only_its_shard(tmp_path):
    feeds = _feeds(200)
    owned = []
    for i in range(2):
        config = PollerConfig(shard=f"{i}/2", allow_addresses=["127.0.0.1"])
        with FeedStateStore(tmp_path / f"state{i}.sqlite3") as store:
            poller = Poller(config, store, Fetcher(config), lambda *a: None, lambda a: None, feeds=feeds)  # type: ignore[arg-type]
            owned.append(set(poller.feeds))
            assert {s.url for s in store.all()} == owned[i]  # no state rows for other pollers' feeds
            poller.close()
    assert owned[0] and owned[1] and not owned[0] & owned[1]
    assert owned[0] | owned[1] == {f.url for f in feeds}
