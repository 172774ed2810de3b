"""Dead letters: messages a stage gave up on, kept whole on their own topic so they can be replayed.

Each dead letter is a JSON envelope keyed by the original key::

    {"schema": "newsflow.dead_letter", "schema_version": 1, "stage": "enrich",
     "error": "...", "error_type": "RecordError", "topic": "newsflow.articles.cleaned",
     "partition": 2, "offset": 41, "key": "...", "key_encoding": "utf-8",
     "payload": "...", "payload_encoding": "utf-8", "failed_at": "2025-01-01T00:00:00+00:00"}

``payload`` is the original message value: UTF-8 text when it decodes, otherwise base64 with
``payload_encoding: "base64"`` (the same for ``key``). ``replay`` sends each payload back to
its original topic, so after a fix the message goes through the stage again; a ``check`` may
first refuse a letter whose cause persists (the pipeline's: newsflow/pipeline/dlq_check.py).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from newsflow.bus.backend import Consumer, Producer
from newsflow.bus.metrics import DEAD_LETTERS
from newsflow.core import faults
from newsflow.bus.types import BrokerMessage

log = logging.getLogger(__name__)

SCHEMA = "newsflow.dead_letter"
SCHEMA_VERSION = 1
_MAX_ERROR_CHARS = 4000  # a pydantic error list can be huge; the head says what went wrong


def _encode(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def _decode(text: Any, encoding: Any, what: str) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"dead letter {what} is not a string")
    if encoding in (None, "utf-8"):
        return text.encode("utf-8")
    if encoding == "base64":
        return base64.b64decode(text, validate=True)
    raise ValueError(f"dead letter {what} has unknown encoding {encoding!r}")


@dataclass(frozen=True)
class DeadLetter:
    """A parsed dead-letter envelope."""

    stage: str
    error: str
    error_type: str
    topic: str | None
    partition: int | None
    offset: int | None
    key: bytes | None
    payload: bytes
    failed_at: str | None


def parse_envelope(value: bytes) -> DeadLetter:
    """Read one envelope. Raises ValueError on anything that is not a readable v1 dead letter."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"dead letter is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError("not a newsflow dead letter")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(f"dead letter schema_version {version!r} is not readable by this version of newsflow")
    payload = _decode(doc.get("payload"), doc.get("payload_encoding"), "payload")
    return DeadLetter(
        stage=str(doc.get("stage", "")),
        error=str(doc.get("error", "")),
        error_type=str(doc.get("error_type", "")),
        topic=doc.get("topic"),
        partition=doc.get("partition"),
        offset=doc.get("offset"),
        key=_decode(doc.get("key"), doc.get("key_encoding"), "key"),
        payload=payload if payload is not None else b"",
        failed_at=doc.get("failed_at"),
    )


class DeadLetters:
    """Sends a stage's failed messages to the dead-letter topic, counted per stage."""

    def __init__(self, producer: Producer, topic: str, stage: str) -> None:
        self.producer = producer
        self.topic = topic
        self.stage = stage

    def envelope(
        self,
        raw: BrokerMessage | None,
        payload_bytes: bytes | None,
        error: BaseException | str,
        error_type: str | None = None,
    ) -> dict[str, Any]:
        payload = payload_bytes if payload_bytes is not None else (raw.value if raw is not None else b"")
        text, encoding = _encode(payload)
        key, key_encoding = _encode(raw.key if raw is not None else None)
        if isinstance(error, BaseException):
            kind = error_type or type(error).__name__
            message = str(error) or kind
        else:
            kind = error_type or "Rejected"
            message = error
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "stage": self.stage,
            "error": message[:_MAX_ERROR_CHARS],
            "error_type": kind,
            "topic": raw.partition.topic if raw is not None else None,
            "partition": raw.partition.index if raw is not None else None,
            "offset": raw.offset if raw is not None else None,
            "key": key,
            "key_encoding": key_encoding,
            "payload": text,
            "payload_encoding": encoding,
            "failed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def send(
        self,
        raw: BrokerMessage | None,
        payload_bytes: bytes | None = None,
        error: BaseException | str = "",
        *,
        error_type: str | None = None,
    ) -> "Future[BrokerMessage]":
        """Produce the envelope; the future resolves once the bus acknowledged it.

        ``payload_bytes`` defaults to ``raw.value`` (the message as it was consumed).
        May raise ``BusUnavailable``; the caller then retries rather than dropping the message.
        """
        doc = self.envelope(raw, payload_bytes, error, error_type)
        log.warning(
            "dead-lettering a message: %s",
            doc["error"][:300],
            extra={
                "stage": self.stage,
                "error_type": doc["error_type"],
                "topic": doc["topic"],
                "partition": doc["partition"],
                "offset": doc["offset"],
            },
        )
        future = self.producer.produce(
            self.topic, raw.key if raw is not None else None, orjson.dumps(doc), [("newsflow-stage", self.stage.encode())]
        )
        future.add_done_callback(lambda f: self._count(f, doc["error"]))
        return future

    def _count(self, future: "Future[BrokerMessage]", reason: str) -> None:
        if not future.cancelled() and future.exception() is None:
            DEAD_LETTERS.labels(self.stage).inc()
            faults.emit(faults.DEAD_LETTERS, self.stage, reason[:300])  # the recorder counts bursts


# Says why a dead letter would fail again as it is (then replay refuses it), or None.
Check = Callable[[DeadLetter], "str | None"]
MAX_REFUSALS_KEPT = 100


@dataclass(frozen=True)
class Refusal:
    """A dead letter replay did not send back: where it is, where it came from, why."""

    partition: int
    offset: int
    letter: DeadLetter
    reason: str


@dataclass
class ReplayResult:
    replayed: int = 0
    invalid: int = 0  # envelopes that could not be read or name no topic: skipped, logged
    refused: int = 0  # letters whose cause persists (``check``): not sent back, logged
    by_topic: dict[str, int] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)  # the first MAX_REFUSALS_KEPT


def replay(
    consumer: Consumer,
    producer: Producer,
    topic: str,
    *,
    limit: int | None = None,
    idle_timeout: float = 5.0,
    ack_timeout: float = 30.0,
    commit_every: int = 100,
    stop: threading.Event | None = None,
    check: Check | None = None,
) -> ReplayResult:
    """Re-produce dead letters to their original topics, from the consumer group's position.

    ``check`` (optional) is asked first about every readable letter; when it gives a reason the
    cause persists, the letter is refused: not produced (it would only fail again and come back
    as a new dead letter), counted, logged with the reason and listed in the result. Refused
    letters stay on the dead-letter topic; the group moves past them like past any other.

    ``consumer`` is a fresh consumer of the replay group (not yet subscribed). Reads until
    ``idle_timeout`` seconds pass without a message, ``limit`` letters were handled, or
    ``stop`` is set. A letter's offset is committed only after its payload was acknowledged on
    the original topic, so an interrupted replay resumes without losing any (at worst a few
    are replayed twice, which the stages absorb: the index upserts by id).
    """
    consumer.subscribe([topic])
    result = ReplayResult()
    pending: dict = {}
    handled = 0
    idle_until = time.monotonic() + idle_timeout
    try:
        while limit is None or handled < limit:
            if stop is not None and stop.is_set():
                break
            remaining = idle_until - time.monotonic()
            if remaining <= 0:
                break
            raw = consumer.poll(min(0.5, remaining))
            if raw is None:
                continue
            idle_until = time.monotonic() + idle_timeout
            try:
                letter = parse_envelope(raw.value)
                if not letter.topic:
                    raise ValueError("dead letter names no original topic")
            except ValueError as exc:
                log.error("skipping unreadable dead letter at %s[%d]@%d: %s", topic, raw.partition.index, raw.offset, exc)
                result.invalid += 1
            else:
                reason = check(letter) if check is not None else None
                if reason:
                    log.warning(
                        "refusing dead letter at %s[%d]@%d (stage %s, from %s@%s): its cause persists: %s",
                        topic, raw.partition.index, raw.offset, letter.stage, letter.topic, letter.offset, reason,
                    )
                    result.refused += 1
                    if len(result.refusals) < MAX_REFUSALS_KEPT:
                        result.refusals.append(Refusal(raw.partition.index, raw.offset, letter, reason))
                else:
                    producer.produce(letter.topic, letter.key, letter.payload).result(timeout=ack_timeout)
                    result.replayed += 1
                    result.by_topic[letter.topic] = result.by_topic.get(letter.topic, 0) + 1
            handled += 1
            pending[raw.partition] = raw.next_offset
            if handled % commit_every == 0:
                consumer.commit(pending)
                pending = {}
    finally:
        if pending:
            consumer.commit(pending)
    return result
