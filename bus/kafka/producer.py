"""The idempotent Kafka producer of the bus."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Mapping, Sequence

from kafka import KafkaProducer
from kafka import errors as kerr

from newsflow.bus.config import KafkaConfig
from newsflow.bus.kafka.client import unavailable
from newsflow.bus.types import BrokerMessage, Partition

# Batching, traded for a little latency (nothing for a news pipeline): without it a steady stream
# moves one record per produce request, and kafka-python's per-request work (thread hand-offs,
# wake-ups, the request itself) costs the daemon CPU, and the broker too.
LINGER_MS = 50  # a producer waits this long to fill a batch

log = logging.getLogger(__name__)


def _finished_within(seconds: float, fn: Any) -> bool:
    """Run ``fn`` in a helper thread; whether it finished within ``seconds``. kafka-python waits
    ``timeout`` per record batch in flush and close, so their own timeouts do not bound the total."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as exc:  # a flush that timed out or failed: the caller sees "not finished"
            log.debug("kafka producer: %s", exc)
            return
        done.set()

    threading.Thread(target=run, name="kafka-producer-close", daemon=True).start()
    return done.wait(max(0.0, seconds))


class KafkaBusProducer:
    """Idempotent producer (acks=all): a record is acknowledged once all in-sync replicas have it."""

    def __init__(self, common: Mapping[str, Any], cfg: KafkaConfig) -> None:
        self._timeout = cfg.timeout
        try:
            self._producer = KafkaProducer(
                **common,
                acks="all",
                enable_idempotence=True,  # broker dedups the producer's own retries
                max_in_flight_requests_per_connection=5,  # the most idempotence allows with ordering
                linger_ms=LINGER_MS,
                compression_type=None if cfg.compression == "none" else cfg.compression,
                max_block_ms=int(cfg.timeout * 1000),  # bounds send() when metadata is unavailable
                delivery_timeout_ms=int(cfg.delivery_timeout * 1000),  # bounds each future
                # Each request within it (kafka-python does not enforce the Java client's rule).
                request_timeout_ms=min(30_000, max(1000, int(cfg.delivery_timeout * 1000) - LINGER_MS)),
                # No allow_auto_create_topics=False: kafka-python 3.0.12 ignores it (its ClusterMetadata
                # never receives the flag), so the broker's auto.create.topics.enable decides.
            )
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"producer cannot reach {common['bootstrap_servers']}") from exc

    def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> "Future[BrokerMessage]":
        hdrs = tuple((str(k), bytes(v)) for k, v in headers)
        try:
            sent = self._producer.send(topic, value=value, key=key, headers=list(hdrs) or None)
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"cannot send to {topic} (is the broker up and does the topic exist?)") from exc
        result: Future[BrokerMessage] = Future()

        def ok(md: Any) -> None:
            result.set_result(BrokerMessage(Partition(md.topic, md.partition), md.offset, key, value, hdrs))

        def failed(exc: BaseException) -> None:
            result.set_exception(unavailable(exc, f"delivery to {topic} failed"))

        sent.add_callback(ok)
        sent.add_errback(failed)
        return result

    def flush(self, timeout: float | None = None) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except kerr.KafkaError as exc:
            raise unavailable(exc, "flush") from exc

    def close(self, timeout: float | None = None) -> None:
        """Send what is buffered and close, within ``timeout`` seconds (at most ``bus.kafka.timeout``).

        Records still unacknowledged then are dropped: each stage commits an offset only after
        its output was acknowledged, so what they came from is delivered again."""
        budget = self._timeout if timeout is None else min(timeout, self._timeout)
        if not _finished_within(budget, lambda: self._producer.flush(timeout=budget)):
            log.warning("kafka producer: records unacknowledged after %.1fs; closing without them", budget)
            self._producer._sender.force_close()  # noqa: SLF001 - kafka-python's close() would flush again first
        if not _finished_within(1.0, lambda: self._producer.close(timeout=0.5)):
            self._producer._closed = True  # noqa: SLF001 - or its __del__ tries the same close again at exit
