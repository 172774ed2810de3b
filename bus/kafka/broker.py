"""The Kafka cluster as a bus ``Broker``: topics (created, grown, deleted), group lag, clients."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

from kafka import KafkaAdminClient, KafkaConsumer
from kafka import errors as kerr
from kafka.structs import TopicPartition

from newsflow.bus.config import BusConfig
from newsflow.bus.kafka.client import client_config, unavailable
from newsflow.bus.groups import GroupView
from newsflow.bus.kafka.consumer import KafkaBusConsumer
from newsflow.bus.kafka.groups import group_view
from newsflow.bus.kafka.producer import KafkaBusProducer
from newsflow.bus.types import Partition

log = logging.getLogger(__name__)


class KafkaBroker:
    """Builds producers and consumers for one Kafka cluster and creates the bus topics."""

    def __init__(self, cfg: BusConfig) -> None:
        self._cfg = cfg
        self._common = client_config(cfg.kafka)
        self._timeout_ms = int(cfg.kafka.timeout * 1000)

    def _admin(self) -> KafkaAdminClient:
        try:
            return KafkaAdminClient(**self._common, request_timeout_ms=self._timeout_ms)
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"admin client cannot reach {self._common['bootstrap_servers']}") from exc

    def create_topics(self, topics: Mapping[str, int]) -> None:
        """Create missing topics and grow ones with fewer partitions. Idempotent and race-tolerant."""
        if not topics:
            return
        names = list(topics)
        admin = self._admin()
        try:
            current = self._partition_counts(admin, names)
            missing = {n: p for n, p in topics.items() if n not in current}
            if missing:
                rf = self._cfg.topics.replication_factor
                resp = admin.create_topics(
                    {n: {"num_partitions": p, "replication_factor": rf} for n, p in missing.items()},
                    timeout_ms=self._timeout_ms,
                    raise_errors=False,
                )
                for t in resp["topics"]:
                    error = kerr.for_code(t["error_code"])
                    if error is not kerr.NoError and error is not kerr.TopicAlreadyExistsError:  # lost a race: fine
                        raise error(f"creating topic {t['name']}: {t.get('error_message')}")
                admin.wait_for_topics(list(missing), timeout_ms=self._timeout_ms)
                current = self._partition_counts(admin, names)  # a racing creator may have used fewer partitions
            grow = {n: p for n, p in topics.items() if current.get(n, p) < p}
            if grow:
                resp = admin.create_partitions(grow, timeout_ms=self._timeout_ms, raise_errors=False)
                for r in resp.results:
                    error = kerr.for_code(r.error_code)
                    if error is kerr.InvalidPartitionsError:
                        if self._partition_counts(admin, [r.name]).get(r.name, 0) >= topics[r.name]:
                            continue  # someone else grew it first
                    if error is not kerr.NoError:
                        raise error(f"growing topic {r.name} to {topics[r.name]} partitions: {r.error_message}")
                log.info("grew kafka topics %s", grow)
            if missing:
                log.info("created kafka topics %s", missing)
        except kerr.KafkaError as exc:
            raise unavailable(exc, "create_topics") from exc
        finally:
            admin.close()

    def delete_topics(self, names: Sequence[str]) -> None:
        """Delete topics (tests and ops); missing ones are ignored."""
        admin = self._admin()
        try:
            resp = admin.delete_topics(list(names), timeout_ms=self._timeout_ms, raise_errors=False)
        finally:
            admin.close()
        for t in resp.get("topics", []):
            error = kerr.for_code(t["error_code"])
            if error not in (kerr.NoError, kerr.UnknownTopicOrPartitionError):
                log.warning("deleting kafka topic %s failed: %s %s", t["name"], error.__name__, t.get("error_message"))

    @staticmethod
    def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
        return {
            t["name"]: len(t["partitions"]) for t in admin.describe_topics(names) if t["error_code"] == 0
        }

    def producer(self) -> "KafkaBusProducer":
        return KafkaBusProducer(self._common, self._cfg.kafka)

    def group_lag(self, group: str, topics: Sequence[str]) -> dict[Partition, int]:
        """Per partition of ``topics``: messages the group has not committed yet (for
        ``run --once`` draining and ``newsflow status``)."""
        admin = self._admin()
        probe = self._probe()
        try:
            return self._lag(admin, probe, group, topics)
        except kerr.KafkaError as exc:
            raise unavailable(exc, f"lag of group {group}") from exc
        finally:
            probe.close()
            admin.close()

    def describe_groups(self, groups: Mapping[str, Sequence[str]]) -> list[GroupView]:
        """State, members and lag (on the topics given per group) of each group, for `newsflow status`."""
        admin = self._admin()
        probe = self._probe()
        try:
            raw = admin.describe_groups(list(groups))
            return [group_view(name, raw.get(name) or {}, self._lag(admin, probe, name, topics))
                    for name, topics in groups.items()]
        except kerr.KafkaError as exc:
            raise unavailable(exc, "describe groups") from exc
        finally:
            probe.close()
            admin.close()

    def _probe(self) -> KafkaConsumer:
        return KafkaConsumer(**self._common, enable_auto_commit=False, request_timeout_ms=self._timeout_ms)

    @staticmethod
    def _lag(admin: KafkaAdminClient, probe: KafkaConsumer, group: str, topics: Sequence[str]) -> dict[Partition, int]:
        committed = {
            (tp.topic, tp.partition): om.offset
            for tp, om in admin.list_group_offsets({group: None}).get(group, {}).items()
            if om is not None and om.offset >= 0
        }
        lag: dict[Partition, int] = {}
        for topic in topics:
            parts = probe.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            for tp, end in probe.end_offsets(tps).items():
                start = committed.get((tp.topic, tp.partition), 0)
                lag[Partition(tp.topic, tp.partition)] = max(0, end - start)
        return lag

    def caught_up(self, group: str, topics: Sequence[str]) -> bool:
        return not any(self.group_lag(group, topics).values())

    def consumer(self, group: str, max_records: int = 500) -> "KafkaBusConsumer":
        return KafkaBusConsumer(self._common, group, self._cfg.kafka, max_records=max_records)
