"""The Kafka bus backend (kafka-python 3.x): topics, an idempotent producer, a group consumer.

Delivery is at least once: consumers never auto-commit; the processing steps commit the
offsets of messages whose downstream write is durable. Everything downstream is keyed by
the article id, so a redelivered message overwrites and never duplicates.

Threading. kafka-python 3 runs its network IO, heartbeats and rebalance listeners on a
background IO thread, and a listener must not call blocking consumer APIs (``commit``) from
it. The bus contract is arroyo's: ``on_revoke`` runs on the thread that polls and may flush
and commit before the partitions move. So ``poll`` runs ``KafkaConsumer.poll`` on a helper
thread and meanwhile serves rebalance callbacks on the caller's thread; the listener awaits
their completion without blocking the IO loop.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Mapping, Sequence

from kafka import AsyncConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kerr
from kafka.future import Future as KafkaFuture
from kafka.structs import OffsetAndMetadata, TopicPartition

from newsflow.bus.backend import AssignCallback, BusUnavailable
from newsflow.bus.types import BrokerMessage, Partition
from newsflow.bus.config import BusConfig, KafkaConfig

log = logging.getLogger(__name__)

# Batching, traded for up to a quarter second of latency per stage (nothing for a news pipeline).
# A stream of ~40 articles/s otherwise moves one record per produce request and per fetch, and
# kafka-python's per-request work (thread hand-offs, wake-ups, the request itself) cost the enrich
# daemon as much CPU as its cheap enrichers; the broker pays per request too.
LINGER_MS = 50  # a producer waits this long to fill a batch
FETCH_MIN_BYTES = 64 * 1024  # the broker holds a fetch until this much is there ...
FETCH_MAX_WAIT_MS = 250  # ... or this long has passed

# A commit refused because the group rebalanced: the partitions belong to another member now,
# which resumes from the last successful commit (redelivery, never loss).
_COMMIT_FENCED = (
    kerr.CommitFailedError,
    kerr.RebalanceInProgressError,
    kerr.IllegalGenerationError,
    kerr.UnknownMemberIdError,
)


def _unavailable(exc: BaseException, what: str) -> BaseException:
    """Map kafka-python's transient errors to BusUnavailable; keep the others as they are."""
    if isinstance(exc, BusUnavailable):
        return exc
    # Retriable: timeouts, lost connections, no leader or coordinator yet -- "not right now".
    if isinstance(exc, kerr.RetriableError) or getattr(exc, "retriable", False):
        err = BusUnavailable(f"kafka: {what}: {exc}")
        err.__cause__ = exc
        return err
    return exc


class _Redact(logging.Filter):
    """kafka-python's admin client logs its whole config at DEBUG, password included."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "**********"), None
        return True


_REDACTED: set[str] = set()


def client_config(cfg: KafkaConfig) -> dict[str, Any]:
    """Connection and security settings shared by the admin client, producers and consumers."""
    conf: dict[str, Any] = {
        "bootstrap_servers": list(cfg.bootstrap_servers),
        "client_id": cfg.client_id,
        "security_protocol": cfg.security_protocol,
        "bootstrap_timeout_ms": int(cfg.timeout * 1000),
        "ssl_check_hostname": cfg.ssl_check_hostname,
    }
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(cfg, key)
        if value is not None:
            conf[key] = str(value)
    if cfg.sasl_mechanism is not None:
        if cfg.sasl_mechanism == "OAUTHBEARER":
            raise ValueError("bus.kafka.sasl_mechanism OAUTHBEARER needs a token provider; newsflow configures none")
        if cfg.sasl_username is None or cfg.sasl_password is None:
            raise ValueError(f"bus.kafka.sasl_mechanism {cfg.sasl_mechanism} needs sasl_username and sasl_password")
        secret = cfg.sasl_password.get_secret_value()
        conf.update(sasl_mechanism=cfg.sasl_mechanism, sasl_plain_username=cfg.sasl_username, sasl_plain_password=secret)
        if secret and secret not in _REDACTED:
            _REDACTED.add(secret)
            logging.getLogger("kafka.admin.client").addFilter(_Redact(secret))
    return conf


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
            raise _unavailable(exc, f"admin client cannot reach {self._common['bootstrap_servers']}") from exc

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
            raise _unavailable(exc, "create_topics") from exc
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
        probe = KafkaConsumer(**self._common, enable_auto_commit=False, request_timeout_ms=self._timeout_ms)
        try:
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
        except kerr.KafkaError as exc:
            raise _unavailable(exc, f"lag of group {group}") from exc
        finally:
            probe.close()
            admin.close()

    def caught_up(self, group: str, topics: Sequence[str]) -> bool:
        return not any(self.group_lag(group, topics).values())


    def consumer(self, group: str, max_records: int = 500) -> "KafkaBusConsumer":
        return KafkaBusConsumer(self._common, group, self._cfg.kafka, max_records=max_records)


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
                delivery_timeout_ms=max(120_000, int(cfg.timeout * 1000) + 30_000),  # bounds each future
                # No allow_auto_create_topics=False: kafka-python 3.0.12 ignores it (its ClusterMetadata
                # never receives the flag), so the broker's auto.create.topics.enable decides.
            )
        except kerr.KafkaError as exc:
            raise _unavailable(exc, f"producer cannot reach {common['bootstrap_servers']}") from exc

    def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> "Future[BrokerMessage]":
        hdrs = tuple((str(k), bytes(v)) for k, v in headers)
        try:
            sent = self._producer.send(topic, value=value, key=key, headers=list(hdrs) or None)
        except kerr.KafkaError as exc:
            raise _unavailable(exc, f"cannot send to {topic} (is the broker up and does the topic exist?)") from exc
        result: Future[BrokerMessage] = Future()

        def ok(md: Any) -> None:
            result.set_result(BrokerMessage(Partition(md.topic, md.partition), md.offset, key, value, hdrs))

        def failed(exc: BaseException) -> None:
            result.set_exception(_unavailable(exc, f"delivery to {topic} failed"))

        sent.add_callback(ok)
        sent.add_errback(failed)
        return result

    def flush(self, timeout: float | None = None) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except kerr.KafkaError as exc:
            raise _unavailable(exc, "flush") from exc

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)


class _Listener(AsyncConsumerRebalanceListener):
    """Runs on kafka-python's IO thread; hands each rebalance to the polling thread and awaits it."""

    def __init__(self, owner: "KafkaBusConsumer") -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner._handoff("revoke", revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._owner._handoff("assign", assigned)

    async def on_partitions_lost(self, lost: Any) -> None:
        await self._owner._handoff("revoke", lost)


class KafkaBusConsumer:
    """A group consumer handing out one record at a time, with manual commits.

    Use it from one thread: the one that calls ``poll`` also runs ``on_assign``/``on_revoke``.
    """

    def __init__(self, common: Mapping[str, Any], group: str, cfg: KafkaConfig, max_records: int = 500) -> None:
        self._group = group
        self._timeout_ms = int(cfg.timeout * 1000)
        self._max_records = max_records
        try:
            self._consumer = KafkaConsumer(
                **common,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",  # a new group reads the whole topic
                session_timeout_ms=cfg.session_timeout_ms,
                heartbeat_interval_ms=max(100, min(3000, cfg.session_timeout_ms // 3)),
                max_poll_interval_ms=cfg.max_poll_interval_ms,
                max_poll_records=max_records,
                fetch_min_bytes=FETCH_MIN_BYTES,
                fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            )
        except kerr.KafkaError as exc:
            raise _unavailable(exc, f"consumer cannot reach {common['bootstrap_servers']}") from exc
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"kafka-poll-{group}")
        self._events: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._buffer: dict[Partition, deque[BrokerMessage]] = {}  # fetched, not yet handed out
        self._buffered = 0
        self._assigned: set[Partition] = set()
        self._paused: set[Partition] = set()
        self._on_assign: AssignCallback | None = None
        self._on_revoke: AssignCallback | None = None
        self._closing = False
        self._last_fetch = 0.0
        self.commits_fenced = 0  # commits refused because the partitions moved (counted, not fatal)
        self._stall_backoff = 15.0
        self._stall_check_at = time.monotonic() + self._stall_backoff

    # -- rebalances -----------------------------------------------------------------------

    async def _handoff(self, kind: str, tps: Any) -> None:
        if self._closing or not tps:
            return  # close() gives everything up; the caller flushed and committed before it
        done = KafkaFuture()
        self._events.put((kind, sorted(Partition(tp.topic, tp.partition) for tp in tps), done))
        await done

    def _serve(self, kind: str, parts: list[Partition]) -> None:
        if kind == "revoke":
            for p in parts:
                self._buffered -= len(self._buffer.pop(p, ()))
            self._assigned.difference_update(parts)
            self._paused.difference_update(parts)
            self._stall_check_at = time.monotonic() + self._stall_backoff
            log.info("kafka group %s: partitions revoked %s", self._group, parts)
            if self._on_revoke is not None:
                self._on_revoke(parts)
        else:
            self._assigned.update(parts)
            # A new assignment starts unpaused, as the processor sees it. kafka-python keeps the
            # paused flag of a partition that stays with us across a rebalance, and nobody would
            # resume it: that partition was never fetched again (two enrich daemons stalled).
            self._resume_in_client(parts)
            self._stall_backoff = 15.0
            log.info("kafka group %s: partitions assigned %s", self._group, parts)
            if self._on_assign is not None:
                self._on_assign(parts)

    def _resume_in_client(self, parts: Sequence[Partition]) -> None:
        for p in parts:
            try:
                self._consumer.resume(TopicPartition(p.topic, p.index))
            except (kerr.IllegalStateError, KeyError):  # already moved on by a newer rebalance
                pass

    def _release(self, done: KafkaFuture) -> None:
        try:  # complete on the IO thread, where the awaiting listener lives
            self._consumer._net.call_soon_threadsafe(lambda: done.success(None))
        except RuntimeError:  # the IO loop is already closed
            pass

    # -- Consumer protocol ----------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: AssignCallback | None = None,
        on_revoke: AssignCallback | None = None,
    ) -> None:
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._consumer.subscribe(topics=list(topics), listener=_Listener(self))

    def _unstall(self) -> None:
        """Ask the group for a rejoin when we have held no partition for a while.

        kafka-python 3.0.12 sometimes joins before it has the topics' metadata, gets an empty
        assignment and never asks again ("No partition metadata for topic"), leaving a daemon
        idle forever. A rejoin costs the group one rebalance, so the checks back off (15 s,
        30 s, ... 5 min); a member idle on purpose (more members than partitions) pays little.
        """
        now = time.monotonic()
        if self._assigned or now < self._stall_check_at:
            return
        self._stall_check_at = now + self._stall_backoff
        self._stall_backoff = min(self._stall_backoff * 2, 300.0)
        topics = self._consumer.subscription() or set()
        if any(self._consumer.partitions_for_topic(t) for t in topics):
            log.warning("kafka group %s: no partitions assigned yet; asking the group to rebalance", self._group)
            self._consumer._coordinator.request_rejoin()  # noqa: SLF001 - the flag kafka-python itself sets

    def poll(self, timeout: float) -> BrokerMessage | None:
        self._unstall()
        # Keep taking part in rebalances while a large buffer drains.
        if 0 < self._buffered < self._max_records and time.monotonic() - self._last_fetch > 1.0:
            self._fetch(0.0)
        msg = self._take()
        if msg is None:
            self._fetch(timeout)
            msg = self._take()
        return msg

    def _take(self) -> BrokerMessage | None:
        for p, q in self._buffer.items():
            if p in self._paused:
                continue
            msg = q.popleft()
            self._buffered -= 1
            del self._buffer[p]
            if q:  # rotate: partitions take turns
                self._buffer[p] = q
            return msg
        return None

    def _fetch(self, timeout: float) -> None:
        room = max(1, self._max_records - self._buffered)
        job = self._helper.submit(self._consumer.poll, timeout_ms=int(timeout * 1000), max_records=room)
        job.add_done_callback(self._events.put)  # the finished job marks the end of its events
        callback_error: BaseException | None = None
        while True:
            event = self._events.get()
            if event is job:
                break
            if isinstance(event, Future):
                continue  # an earlier poll abandoned by an exception (KeyboardInterrupt)
            kind, parts, done = event
            try:
                self._serve(kind, parts)
            except BaseException as exc:  # re-raised below, once the poll is complete
                callback_error = callback_error or exc
            finally:
                self._release(done)
        self._last_fetch = time.monotonic()
        try:
            records = job.result()
        except kerr.KafkaError as exc:
            raise _unavailable(exc, "poll") from exc
        for tp, recs in records.items():
            p = Partition(tp.topic, tp.partition)
            if p not in self._assigned:
                continue
            q = self._buffer.setdefault(p, deque())
            for r in recs:
                q.append(BrokerMessage(p, r.offset, r.key, r.value if r.value is not None else b"", tuple(r.headers or ())))
            self._buffered += len(recs)
        if callback_error is not None:
            raise callback_error

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        if not offsets:
            return
        payload = {TopicPartition(p.topic, p.index): OffsetAndMetadata(off, "", -1) for p, off in offsets.items()}
        try:
            self._consumer.commit(payload, timeout_ms=self._timeout_ms)
        except _COMMIT_FENCED as exc:
            self.commits_fenced += 1
            log.warning("kafka group %s: commit of %s refused after a rebalance (%s); the new owner re-reads them",
                        self._group, dict(offsets), exc)
        except kerr.KafkaError as exc:
            raise _unavailable(exc, f"commit {dict(offsets)}") from exc

    def pause(self, partitions: Sequence[Partition]) -> None:
        mine = [p for p in partitions if p in self._assigned]
        self._paused.update(mine)
        self._consumer.pause(*(TopicPartition(p.topic, p.index) for p in mine))

    def resume(self, partitions: Sequence[Partition]) -> None:
        mine = [p for p in partitions if p in self._assigned]
        self._paused.difference_update(mine)
        self._consumer.resume(*(TopicPartition(p.topic, p.index) for p in mine))

    def paused(self) -> set[Partition]:
        return set(self._paused)

    @property
    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    def lag(self) -> dict[Partition, int]:
        parts = sorted(self._assigned)
        if not parts:
            return {}
        tps = [TopicPartition(p.topic, p.index) for p in parts]
        try:
            end = self._consumer.end_offsets(tps, timeout_ms=self._timeout_ms)
            committed = {tp: self._consumer.committed(tp, timeout_ms=self._timeout_ms) for tp in tps}
            never = [tp for tp, off in committed.items() if off is None]
            start = self._consumer.beginning_offsets(never, timeout_ms=self._timeout_ms) if never else {}
        except kerr.KafkaError as exc:
            raise _unavailable(exc, "lag") from exc
        return {
            p: max(0, end[tp] - (committed[tp] if committed[tp] is not None else start[tp])) for p, tp in zip(parts, tps)
        }

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._buffer.clear()
        self._buffered = 0
        while True:  # a rebalance that finished in the background may still await its handoff
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if isinstance(event, tuple):
                self._release(event[2])
        try:
            self._consumer.close(autocommit=False, timeout_ms=self._timeout_ms)
        finally:
            self._helper.shutdown(wait=False)
