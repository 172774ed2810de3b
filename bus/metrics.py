"""Prometheus counters of the bus side (served by the daemon's metrics endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DEAD_LETTERS = Counter(
    "newsflow_dead_letters_total", "Messages sent to the dead-letter topic, by the stage that gave up on them", ["stage"]
)
MESSAGES_PROCESSED = Counter(
    "newsflow_bus_messages_total", "Messages consumed and accepted by a stage's processing steps", ["stage"]
)
PROCESSOR_ERRORS = Counter(
    "newsflow_bus_errors_total",
    "Stream processor trouble by kind (bus_unavailable, strategy_error, transient_retry, commit_failed)",
    ["stage", "kind"],
)
REBALANCES = Counter("newsflow_bus_rebalances_total", "Partition assignments and revocations seen by a stage", ["stage"])
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag",
    "Messages not yet committed by the stage's consumer group, per assigned partition (sampled every few seconds)",
    ["stage", "topic", "partition"],
)
ARTICLES_ENRICHED = Counter("newsflow_articles_enriched_total", "Articles the enrich stage enriched")
ENRICH_SECONDS = Histogram(
    "newsflow_enrich_seconds",
    "Time to enrich one article (decode, enrichment chain, encode)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
