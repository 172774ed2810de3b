"""RunTask: apply a function to each payload, on the processor's thread."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Generic, TypeVar

from newsflow.bus.backend import MessageRejected
from newsflow.bus.dead_letters import DeadLetters
from newsflow.bus.metrics import PROCESSOR_ERRORS
from newsflow.bus.strategies.base import (
    JOIN_SLICE,
    TRANSIENT_ERRORS,
    Backoff,
    Deadline,
    ForwardingStrategy,
    ProcessingStrategy,
    filtered,
)
from newsflow.bus.strategies.dead_letter import DeadLetterPolicy, InvalidMessage
from newsflow.bus.types import FILTERED, Message

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")


class RunTask(ForwardingStrategy[T], Generic[T, U]):
    """Apply ``fn`` to each payload and forward the result (``fn`` may return ``FILTERED``).

    When ``fn`` raises, the message is bad: it goes to the dead letters (error, stage, original
    bytes) and its offsets travel on as ``FILTERED``; the stream goes on. When ``fn`` raises
    one of ``transient`` (the bus or index is down: not the message's fault), the message is
    rejected and retried after a backoff instead.
    """

    def __init__(
        self,
        fn: Callable[[T], U],
        next: ProcessingStrategy[U],
        dead_letters: DeadLetters | None,
        *,
        transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
        dead_letter_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(next)
        self._fn = fn
        self._transient = transient
        self._backoff = backoff or Backoff()
        self._dead_letters = DeadLetterPolicy(dead_letters, backoff=self._backoff, timeout=dead_letter_timeout)
        self._stage = self._dead_letters.stage
        self._carried: Message[U] | None = None  # a result the next step refused
        self._retry_at = 0.0

    def submit(self, message: Message[T]) -> None:
        self._check_open()
        if self._carried is not None:
            self._next.submit(self._carried)  # still refused: the caller keeps ``message``
            self._carried = None
        if time.monotonic() < self._retry_at:
            raise MessageRejected("waiting before retrying after a transient error")
        output = self._apply(message)
        try:
            self._next.submit(output)
        except MessageRejected:
            self._carried = output

    def _apply(self, message: Message[T]) -> Message[Any]:
        if message.payload is FILTERED:
            return message
        try:
            result = self._fn(message.payload)
        except self._transient as exc:
            delay = self._backoff.next()
            self._retry_at = time.monotonic() + delay
            PROCESSOR_ERRORS.labels(self._stage, "transient_retry").inc()
            log.warning("%s: transient error, retrying the message in %.1fs: %s", self._stage, delay, exc)
            raise MessageRejected(str(exc)) from exc
        except Exception as exc:
            if not self._dead_letters.handle(InvalidMessage.of(message, exc)):
                self._retry_at = self._dead_letters.retry_at
                raise MessageRejected("the dead-letter topic is unavailable") from exc
            return filtered(message)
        self._backoff.reset()
        return message.replace(result)

    def poll(self) -> None:
        self._next.poll()
        if self._carried is not None:
            try:
                self._next.submit(self._carried)
                self._carried = None
            except MessageRejected:
                pass

    def _finish(self, deadline: Deadline) -> None:
        while self._carried is not None and not deadline.expired():
            self.poll()
            if self._carried is not None:
                time.sleep(deadline.slice(JOIN_SLICE))
        if self._carried is not None:
            log.warning("%s: a processed message was not accepted downstream before the deadline", self._stage)
            self._carried = None

    def _discard(self) -> None:
        self._carried = None
