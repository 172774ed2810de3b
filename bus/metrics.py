"""Prometheus counters of the bus side (served by the daemon's metrics endpoint)."""

from __future__ import annotations

from prometheus_client import Counter

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
