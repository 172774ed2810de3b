"""The consumer loop of one stage: poll the bus, feed the strategy, follow rebalances, stop cleanly.

The processor owns the consumer; the strategy (a chain of ``bus.strategies`` ending in
``CommitOffsets``) owns the work. The processor never commits by itself: it hands
``consumer.commit`` to the strategy factory and ``CommitOffsets`` calls it.

* A strategy is built when partitions are assigned and joined (in-flight work finished and
  committed, within ``join_timeout``) when they are revoked, so a partition's new owner starts
  from offsets that cover everything done here.
* ``MessageRejected`` pauses every assigned partition and holds the message; the loop keeps
  calling ``strategy.poll()`` and ``consumer.poll()`` (which services rebalances) and offers the
  message again until it is taken, then resumes.
* ``BusUnavailable`` backs off and retries, forever: the daemon outlives a broker restart.
* Any other error (a bug, a dead worker pool) terminates the strategy without committing and,
  when ``reconnect`` is given, rebuilds the consumer after a backoff, so work resumes from the
  committed offsets: nothing is skipped. Without ``reconnect`` the error is raised.
* ``run`` returns once ``stop`` is set, within ``shutdown_timeout``: the strategy is joined with
  that budget less ``close_reserve``, kept for the final commit and leaving the group (each
  bounded by the backend, e.g. ``bus.kafka.commit_timeout``), whatever state the broker is in.
  ``shutdown_left()`` then tells the owner what is left for closing its producer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, Iterable, Mapping, Sequence

from newsflow.bus.backend import BusUnavailable, Consumer, MessageRejected
from newsflow.bus.metrics import CONSUMER_LAG, MESSAGES_PROCESSED, PROCESSOR_ERRORS, REBALANCES
from newsflow.bus.strategies import Backoff, ProcessingStrategy
from newsflow.bus.strategies.base import Deadline
from newsflow.bus.types import BrokerMessage, Message, Partition
from newsflow.core import faults

log = logging.getLogger(__name__)

CommitFn = Callable[[Mapping[Partition, int]], None]
StrategyFactory = Callable[[CommitFn], ProcessingStrategy[BrokerMessage]]

_CRASH_BACKOFF_RESET = 300.0  # seconds without a crash before restarts are quick again


class StreamProcessor:
    def __init__(
        self,
        consumer: Consumer,
        topics: Sequence[str],
        strategy_factory: StrategyFactory,
        *,
        stage: str = "stage",
        poll_timeout: float = 0.5,
        backpressure_wait: float | None = None,
        join_timeout: float = 30.0,
        shutdown_timeout: float = 30.0,
        close_reserve: float = 0.0,
        reconnect: Callable[[], Consumer] | None = None,
        backoff: Backoff | None = None,
        lag_interval: float = 5.0,
    ) -> None:
        self._consumer = consumer
        self._topics = list(topics)
        self._factory = strategy_factory
        self.stage = stage
        self._poll_timeout = poll_timeout
        # How long to poll (paused) between offers of a held message. Not shorter than
        # poll_timeout by default: kafka-python 3.0.12 can lose a group join that a very short
        # poll cuts off (the member then never gets its partitions).
        self._backpressure_wait = poll_timeout if backpressure_wait is None else backpressure_wait
        self._join_timeout = join_timeout
        self._shutdown_timeout = shutdown_timeout
        self._close_reserve = min(close_reserve, shutdown_timeout / 2)
        self._shutdown_deadline: Deadline | None = None
        self._stopped_at: float | None = None  # when ``stop`` was set: the budget runs from there
        self._reconnect = reconnect
        self._bus_backoff = backoff or Backoff()
        self._crash_backoff = Backoff(initial=1.0, maximum=60.0)
        self._last_crash = 0.0
        self._strategy: ProcessingStrategy[BrokerMessage] | None = None
        self._assigned: set[Partition] = set()
        self._held: deque[BrokerMessage] = deque()
        self._paused = False
        self._callback_error: BaseException | None = None
        self._lag_interval = lag_interval  # seconds between samples of the consumer lag gauge
        self._next_lag_sample = 0.0
        # Counters for metrics and `newsflow status`; only this processor's thread writes them.
        self.processed = 0
        self.rebalances = 0
        self.errors = 0

    @property
    def assigned(self) -> set[Partition]:
        return set(self._assigned)

    @property
    def owns_partitions(self) -> bool:
        """The group has assigned this member partitions and not taken them all back: the
        stage's readiness. False from the start until the first assignment (a member restarted
        after a crash waits here for the dead one's partitions), while a rebalance has revoked
        everything, after a crash until the rebuilt consumer is assigned again, and for a member
        the group leaves idle (more members than partitions: it has nothing to do)."""
        return bool(self._assigned)  # read from the health endpoint's thread: one len()

    def stats(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "processed": self.processed,
            "rebalances": self.rebalances,
            "errors": self.errors,
            "assigned": len(self._assigned),
            "backpressure": self._paused,
        }

    def run(self, stop: threading.Event) -> None:
        threading.Thread(target=self._note_stop, args=(stop,), name=f"{self.stage}-stop-clock", daemon=True).start()
        self._subscribe()
        try:
            while not stop.is_set():
                try:
                    self._run_once()
                    self._bus_backoff.reset()
                    self._sample_lag()
                except BusUnavailable as exc:
                    self.errors += 1
                    PROCESSOR_ERRORS.labels(self.stage, "bus_unavailable").inc()
                    delay = self._bus_backoff.next()
                    log.warning("%s: bus unavailable, retrying in %.1fs: %s", self.stage, delay, exc)
                    stop.wait(delay)
                except Exception:
                    self.errors += 1
                    PROCESSOR_ERRORS.labels(self.stage, "strategy_error").inc()
                    log.exception("%s: processing failed; restarting from the committed offsets", self.stage)
                    self._abandon()
                    if self._reconnect is None:
                        raise
                    if not self._restart(stop):
                        return
            self._shutdown()
        except BaseException:
            self._abandon()
            raise

    # -- the loop ---------------------------------------------------------------------------

    def _run_once(self) -> None:
        if self._strategy is not None:
            self._strategy.poll()
        self._offer_held()
        raw = self._consumer.poll(self._backpressure_wait if self._held else self._poll_timeout)
        if self._callback_error is not None:
            error, self._callback_error = self._callback_error, None
            raise RuntimeError(f"{self.stage}: rebalance callback failed: {error!r}") from error
        if raw is not None:
            if self._strategy is None:
                # The consumer moved past this message with nowhere to put it: start over from
                # the committed offsets rather than risk committing past it later.
                raise RuntimeError(f"{self.stage}: got a message from {raw.partition} without an assignment")
            self._held.append(raw)
            self._offer_held()

    def _offer_held(self) -> None:
        strategy = self._strategy
        while self._held and strategy is not None:
            try:
                strategy.submit(Message.of(self._held[0]))
            except MessageRejected:
                if not self._paused:
                    self._consumer.pause(sorted(self._assigned))
                    self._paused = True
                return
            self._held.popleft()
            self.processed += 1
            MESSAGES_PROCESSED.labels(self.stage).inc()
        if self._paused:
            self._consumer.resume(sorted(self._assigned))
            self._paused = False

    def _sample_lag(self) -> None:
        """Set ``newsflow_consumer_lag`` for the assigned partitions, every ``lag_interval`` seconds."""
        now = time.monotonic()
        if not self._assigned or now < self._next_lag_sample:
            return
        self._next_lag_sample = now + self._lag_interval
        try:
            lag = self._consumer.lag()
        except Exception as exc:  # a metric must never stop the stage; the next sample retries
            log.debug("%s: cannot sample the consumer lag: %s", self.stage, exc)
            return
        for p, n in lag.items():
            CONSUMER_LAG.labels(self.stage, p.topic, str(p.index)).set(n)

    def _forget_lag(self, partitions: Iterable[Partition]) -> None:
        for p in partitions:  # a partition that moved to another worker is no longer ours to report
            try:
                CONSUMER_LAG.remove(self.stage, p.topic, str(p.index))
            except KeyError:
                pass

    # -- assignment ---------------------------------------------------------------------------

    def _subscribe(self) -> None:
        self._consumer.subscribe(self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _commit(self, offsets: Mapping[Partition, int]) -> None:
        self._consumer.commit(offsets)

    def _on_assign(self, partitions: Sequence[Partition]) -> None:
        # Runs inside consumer.poll; a client library may swallow exceptions raised here
        # (kafka-python logs and goes on), so errors are handed to the loop instead.
        try:
            if not partitions:
                return
            self.rebalances += 1
            REBALANCES.labels(self.stage).inc()
            log.info("%s: assigned %s", self.stage, _describe(partitions))
            faults.emit(faults.ASSIGN, self.stage, _describe(partitions))
            if self._strategy is not None:  # an incremental assignment: rebuild over all partitions
                self._close_strategy(self._join_timeout)
            self._assigned |= set(partitions)
            if not self._held:
                self._paused = False  # a fresh assignment starts unpaused
            self._strategy = self._factory(self._commit)
        except Exception as exc:
            log.exception("%s: failed to set up processing for new partitions", self.stage)
            self._callback_error = exc

    def _on_revoke(self, partitions: Sequence[Partition]) -> None:
        try:
            if not partitions:
                return
            self.rebalances += 1
            REBALANCES.labels(self.stage).inc()
            log.info("%s: revoked %s", self.stage, _describe(partitions))
            faults.emit(faults.REVOKE, self.stage, _describe(partitions))
            # Finish and commit what is in flight while the partitions are still ours.
            self._close_strategy(self._join_timeout)
            revoked = set(partitions)
            self._held = deque(m for m in self._held if m.partition not in revoked)
            self._assigned -= revoked
            self._forget_lag(revoked)
            if self._assigned:
                self._strategy = self._factory(self._commit)
            else:
                self._paused = False
        except Exception as exc:
            log.exception("%s: failed to hand back revoked partitions", self.stage)
            self._callback_error = exc

    def _close_strategy(self, timeout: float) -> None:
        strategy, self._strategy = self._strategy, None
        if strategy is None:
            return
        try:
            strategy.close()
            strategy.join(timeout)
        except Exception:
            log.exception("%s: strategy failed while finishing its work; abandoning it", self.stage)
            strategy.terminate()

    # -- stopping and restarting --------------------------------------------------------------

    def shutdown_left(self) -> float | None:
        """Seconds left of ``shutdown_timeout`` since the stop (None: not stopping)."""
        return None if self._shutdown_deadline is None else self._shutdown_deadline.remaining()

    def _note_stop(self, stop: threading.Event) -> None:
        stop.wait()
        self._stopped_at = time.monotonic()

    def _shutdown(self) -> None:
        # The loop notices the stop between two steps (a commit may be under way): the budget
        # runs from the signal, not from here.
        since = time.monotonic() - (self._stopped_at or time.monotonic())
        self._shutdown_deadline = deadline = Deadline(max(0.0, self._shutdown_timeout - since))
        drain = max(0.0, self._shutdown_timeout - since - self._close_reserve)
        log.info("%s: stopping; finishing in-flight work (up to %.0fs)", self.stage, drain)
        self._held.clear()  # not submitted, so not committed: read again next time
        self._close_strategy(drain)
        self._forget_lag(self._assigned)
        self._close_consumer(deadline.remaining())

    def _abandon(self) -> None:
        strategy, self._strategy = self._strategy, None
        if strategy is not None:
            try:
                strategy.terminate()
            except Exception:
                log.exception("%s: strategy failed to terminate", self.stage)
        self._held.clear()
        self._forget_lag(self._assigned)
        self._assigned.clear()
        self._paused = False
        self._close_consumer()

    def _close_consumer(self, timeout: float | None = None) -> None:
        try:
            self._consumer.close(timeout)
        except Exception as exc:
            log.warning("%s: closing the consumer failed: %s", self.stage, exc)

    def _restart(self, stop: threading.Event) -> bool:
        if time.monotonic() - self._last_crash > _CRASH_BACKOFF_RESET:
            self._crash_backoff.reset()
        self._last_crash = time.monotonic()
        delay = self._crash_backoff.next()
        while not stop.wait(delay):
            try:
                assert self._reconnect is not None
                self._consumer = self._reconnect()
                self._subscribe()
                return True
            except BusUnavailable as exc:
                delay = self._bus_backoff.next()
                log.warning("%s: cannot reconnect to the bus, retrying in %.1fs: %s", self.stage, delay, exc)
        return False


def _describe(partitions: Sequence[Partition]) -> str:
    return ", ".join(f"{p.topic}[{p.index}]" for p in sorted(partitions))
