"""Processing strategies, one per module: small steps, each doing one thing and handing its
output to the next (see ``base`` for the contract every one keeps)."""

from newsflow.bus.strategies.base import JOIN_SLICE, TRANSIENT_ERRORS, Backoff, Deadline, ForwardingStrategy, ProcessingStrategy, merge_committable
from newsflow.bus.strategies.batch import Batch, BatchStep
from newsflow.bus.strategies.commit import CommitOffsets
from newsflow.bus.strategies.dead_letter import DeadLetterPolicy, InvalidMessage
from newsflow.bus.strategies.produce import Produce
from newsflow.bus.strategies.run_task import RunTask
from newsflow.bus.strategies.run_task_in_pool import RunTaskInPool

__all__ = [
    "JOIN_SLICE",
    "TRANSIENT_ERRORS",
    "Backoff",
    "Batch",
    "BatchStep",
    "CommitOffsets",
    "Deadline",
    "DeadLetterPolicy",
    "ForwardingStrategy",
    "InvalidMessage",
    "ProcessingStrategy",
    "Produce",
    "RunTask",
    "RunTaskInPool",
    "merge_committable",
]
