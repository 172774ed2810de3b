"""The one path from a strategy to the dead-letter topic (arroyo's ``InvalidMessage``).

A strategy that gives up on a message (its work raised, or the index rejected it) describes it
as an ``InvalidMessage`` and hands it to its ``DeadLetterPolicy``, which sends it, waits for the
bus to acknowledge it and, when the dead-letter topic cannot take it now, counts, logs and says
when to try again. The strategy keeps the message (and its offsets) until the policy took it,
so a dead letter is never lost and never overtaken by a commit. What a dead letter looks like
on the topic is ``newsflow.bus.dead_letters``' business alone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import PROCESSOR_ERRORS
from newsflow.bus.strategies.base import Backoff
from newsflow.bus.types import BrokerMessage, Message

log = logging.getLogger(__name__)


class InvalidMessage(Exception):
    """A message that is its own problem: what its dead letter needs to say."""

    def __init__(
        self,
        origin: BrokerMessage | None,
        payload: bytes | None,
        error: BaseException | str,
        error_type: str | None = None,
    ) -> None:
        super().__init__(str(error))
        self.origin = origin
        self.payload = payload
        self.error = error
        self.error_type = error_type

    @classmethod
    def of(cls, message: Message[Any], error: BaseException | str) -> "InvalidMessage":
        """The message as it was consumed (its raw bytes), failed with ``error``."""
        if message.origin is not None:
            payload: bytes | None = message.origin.value
        else:
            payload = message.payload if isinstance(message.payload, bytes) else None
        return cls(message.origin, payload, error)


class DeadLetterPolicy:
    """Sends a strategy's invalid messages, one at a time, each acknowledged before the next.

    ``handle`` returns True once the dead letter is safe (acknowledged, or dropped with a log
    line when no dead-letter topic is configured) and False when the topic did not take it:
    the strategy then keeps the message and calls again at ``retry_at`` or later.
    """

    def __init__(
        self, dead_letters: DeadLetters | None, *, backoff: Backoff, timeout: float = 30.0, stage: str = "unknown"
    ) -> None:
        self._dead_letters = dead_letters
        self._backoff = backoff
        self._timeout = timeout
        self.stage = dead_letters.stage if dead_letters is not None else stage
        self.retry_at = 0.0

    def handle(self, invalid: InvalidMessage) -> bool:
        if self._dead_letters is None:
            log.error("dropping a failed message (no dead-letter topic configured): %s", invalid.error)
            return True
        try:
            future = self._dead_letters.send(invalid.origin, invalid.payload, invalid.error, error_type=invalid.error_type)
            future.result(timeout=self._timeout)
        except Exception as exc:  # refused, timed out or failed: the dead letter is not safe yet
            delay = self._backoff.next()
            self.retry_at = time.monotonic() + delay
            PROCESSOR_ERRORS.labels(self.stage, "transient_retry").inc()
            reason = exc if isinstance(exc, BusUnavailable) else f"dead-letter topic did not acknowledge: {exc!r}"
            log.warning("%s: dead-letter topic unavailable, retrying in %.1fs: %s", self.stage, delay, reason)
            return False
        self._backoff.reset()
        return True
