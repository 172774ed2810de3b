"""Consumer groups of the embedded bus: membership, partition ownership, eager rebalances.

A group's members split the partitions of the topics they subscribe to (join order decides the
assignment). A member joining or leaving, or a subscribed topic growing, rebalances the group
the "eager" way kafka-python does: every member is told to revoke all its partitions, then to
take its new set. A member takes a partition only once its previous owner released it, so two
members never work on one partition at the same time; that hand-over runs in the members'
``poll`` (``LocalConsumer``). Callers hold the broker's lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from newsflow.bus.types import Partition

if TYPE_CHECKING:
    from newsflow.bus.local.consumer import LocalConsumer


class Group:
    def __init__(self) -> None:
        self.members: list[LocalConsumer] = []  # join order decides the assignment
        self.owner: dict[Partition, LocalConsumer] = {}


class Groups:
    """The groups with live members in this process (membership is per process)."""

    def __init__(self, partitions_of: Callable[[str], int]) -> None:
        self._partitions_of = partitions_of
        self._groups: dict[str, Group] = {}

    def get(self, name: str) -> Group | None:
        return self._groups.get(name)

    def owns(self, name: str, partition: Partition, member: "LocalConsumer") -> bool:
        group = self._groups.get(name)
        return group is not None and group.owner.get(partition) is member

    def live(self, topic: str) -> list[str]:
        """The groups with a member subscribed to ``topic``."""
        return [name for name, g in self._groups.items() if any(topic in m.topics for m in g.members)]

    def join(self, name: str, member: "LocalConsumer") -> None:
        group = self._groups.setdefault(name, Group())
        if member not in group.members:
            group.members.append(member)
        self._rebalance(group)

    def leave(self, name: str, member: "LocalConsumer") -> None:
        group = self._groups.get(name)
        if group is None:
            return
        for p in [p for p, owner in group.owner.items() if owner is member]:
            del group.owner[p]
        if member in group.members:
            group.members.remove(member)
            if group.members:
                self._rebalance(group)
            else:
                del self._groups[name]

    def topics_grew(self, topics: Iterable[str]) -> None:
        grown = set(topics)
        for group in self._groups.values():
            if any(grown & set(m.topics) for m in group.members):
                self._rebalance(group)

    def _rebalance(self, group: Group) -> None:
        """Give every member its new target set and ask it to revoke everything first (eager)."""
        targets: dict[int, set[Partition]] = {id(m): set() for m in group.members}
        topics = sorted({t for m in group.members for t in m.topics})
        for topic in topics:
            subscribers = [m for m in group.members if topic in m.topics]
            for i in range(self._partitions_of(topic)):
                targets[id(subscribers[i % len(subscribers)])].add(Partition(topic, i))
        for member in group.members:
            member._target = targets[id(member)]
            member._rebalance_pending = True
