"""The embedded bus: Kafka's model (topics, partitions, offsets, consumer groups) in one SQLite file.

Used by ``newsflow run`` when no Kafka cluster is configured, and by the tests. It keeps the
semantics the processing steps rely on, so a stage behaves the same over either backend:

* a message's offset is its position in its partition; a committed offset is the next one to read;
* the same key always lands on the same partition (stable hash, not Python's salted ``hash``);
* a group's consumers split the partitions of the topics they subscribe to; a member joining or
  leaving rebalances the group the "eager" way kafka-python does: every member revokes all its
  partitions (``on_revoke``, where it commits what it finished), then gets its new set
  (``on_assign``). A partition is handed to its new owner only after the old owner released it,
  so two members never work on one partition at the same time. Callbacks run inside ``poll``,
  on the consumer's own thread, as with Kafka;
* positions start at the group's committed offset (``earliest`` when it has none);
* rows and offsets are committed to SQLite before ``produce``/``commit`` return, so a run that
  stops or crashes resumes from the committed offsets with nothing lost.

The parts: ``storage`` (the SQLite tables, nothing else), ``groups`` (membership and who owns
which partition), ``consumer`` (a group member: rebalance hand-over, reading, committing) and
``broker`` (producers, backpressure, the lock every part runs under).
"""

from newsflow.bus.local.broker import LocalBroker, LocalProducer
from newsflow.bus.local.consumer import LocalConsumer
from newsflow.bus.local.storage import partition_for

__all__ = ["LocalBroker", "LocalConsumer", "LocalProducer", "partition_for"]
