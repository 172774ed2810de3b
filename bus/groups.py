"""A consumer group as the operator sees it, whichever backend holds it (`newsflow status`).

Both brokers answer ``describe_groups(names)`` with these: Kafka from its group coordinator
(bus/kafka/groups.py), the embedded bus from the membership its daemons record in the bus file
(bus/local/groups.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsflow.bus.types import Partition

# The states a group is reported in (Kafka's PreparingRebalance and CompletingRebalance are
# both "rebalancing").
STABLE, REBALANCING, EMPTY, DEAD, UNKNOWN = "stable", "rebalancing", "empty", "dead", "unknown"


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    partitions: tuple[Partition, ...] = ()
    alive: bool = True  # False: the embedded bus knows its process is gone


@dataclass(frozen=True)
class GroupView:
    name: str
    state: str
    members: tuple[GroupMember, ...] = ()
    lag: dict[Partition, int] = field(default_factory=dict)  # uncommitted messages per partition

    @property
    def dead_members(self) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if not m.alive)
