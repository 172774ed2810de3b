"""The bus layer's config section ([bus], with [bus.topics] and [bus.kafka])."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from newsflow.core.config import CommaList, Section


class TopicsConfig(Section):
    cleaned: str = "newsflow.articles.cleaned"
    enriched: str = "newsflow.articles.enriched"
    dead_letters: str = "newsflow.dead-letters"
    # `newsflow reprocess`: archived pages re-extracted, and their enriched copies, on topics of
    # their own with consumer groups of their own, so they never queue before live articles.
    reprocess: str = "newsflow.articles.reprocess"
    reprocess_enriched: str = "newsflow.articles.reprocess-enriched"
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
    # Static group membership (KIP-345, brokers >= 2.3): a consumer restarted with the same id
    # gets its partitions back at once, without waiting out session_timeout_ms. Unique per member
    # of a group and stable across restarts (the systemd units use <host>-<stage>-<instance>);
    # None: dynamic membership. A static member leaves no group on a clean stop either: its
    # partitions wait for it (or session_timeout_ms) before moving to the others.
    group_instance_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$",
        description="static membership id of this consumer (None: dynamic membership)",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=1000, description="longest gap between polls before eviction")
    timeout: float = Field(default=30.0, gt=0, description="seconds to wait for the broker (connect, flush)")
    # How long the producer keeps a record it could not deliver (broker down) before it reports
    # it refused: the poller then keeps the article and sends it again (ingest/retry_queue.py),
    # the enrich stage retries the produce, neither commits past it.
    delivery_timeout: float = Field(default=120.0, ge=1, description="seconds a produce may wait for the broker's ack")
    # One offset commit, the lag sample and the consumer's close wait at most this long: a commit
    # not done by then is retried with the next one (offsets are cumulative, so nothing is lost),
    # and a stage is never held for the whole `timeout` by a coordinator that moved or restarted.
    commit_timeout: float = Field(
        default=5.0, gt=0, description="seconds one offset commit may take before it is retried with the next"
    )
    # kafka-python compresses in the producer's Python thread, so the codec's CPU cost counts:
    # zstd is cheaper than gzip at about its ratio, lz4 cheaper still at a lower one (measurements
    # in docs/performance.md). gzip for brokers < 2.1.
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
