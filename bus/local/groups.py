"""Consumer groups of the embedded bus: membership, partition ownership, eager rebalances.

A group's members split the partitions of the topics they subscribe to (join order decides the
assignment). A member joining or leaving, or a subscribed topic growing, rebalances the group
the "eager" way kafka-python does: every member is told to revoke all its partitions, then to
take its new set. A member takes a partition only once its previous owner released it, so two
members never work on one partition at the same time; that hand-over runs in the members'
``poll`` (``LocalConsumer``). Callers hold the broker's lock.

Membership lives in the process, but each change is also written to the bus file (``save``), so
`newsflow status` in another process can show it (``describe``): members, their partitions,
whether a rebalance is under way, and members whose process died without leaving.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from newsflow.bus.groups import EMPTY, REBALANCING, STABLE, GroupMember, GroupView
from newsflow.bus.types import Partition

if TYPE_CHECKING:
    from newsflow.bus.local.consumer import LocalConsumer
    from newsflow.bus.local.storage import LocalStorage

log = logging.getLogger(__name__)
HOST = socket.gethostname()
_member_ids = itertools.count(1)


class Group:
    def __init__(self) -> None:
        self.members: list[LocalConsumer] = []  # join order decides the assignment
        self.owner: dict[Partition, LocalConsumer] = {}


class Groups:
    """The groups with live members in this process (membership is per process)."""

    def __init__(self, partitions_of: Callable[[str], int], storage: "LocalStorage | None" = None) -> None:
        self._partitions_of = partitions_of
        self._groups: dict[str, Group] = {}
        self._storage = storage
        self._ids: dict[int, str] = {}  # id(member) -> its member id in the bus file

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
            self._ids[id(member)] = f"{HOST}-{os.getpid()}-{next(_member_ids)}"
        self._rebalance(group)
        self.save(name)

    def leave(self, name: str, member: "LocalConsumer") -> None:
        group = self._groups.get(name)
        if group is None:
            return
        for p in [p for p, owner in group.owner.items() if owner is member]:
            del group.owner[p]
        if member in group.members:
            group.members.remove(member)
            self._ids.pop(id(member), None)
            if group.members:
                self._rebalance(group)
            else:
                del self._groups[name]
        self.save(name)

    def topics_grew(self, topics: Iterable[str]) -> None:
        grown = set(topics)
        for group in self._groups.values():
            if any(grown & set(m.topics) for m in group.members):
                self._rebalance(group)
        for name in list(self._groups):
            self.save(name)

    def save(self, name: str) -> None:
        """Write this process's members of group ``name`` to the bus file (best effort: the
        view is for operators; a busy database must not stop a rebalance)."""
        if self._storage is None:
            return
        group = self._groups.get(name)
        rows = [
            (self._ids.get(id(m), "?"), REBALANCING if m._rebalance_pending or m._awaiting_assignment else STABLE,
             sorted(m.assignment()))
            for m in (group.members if group else [])
        ]
        try:
            self._storage.save_members(name, HOST, os.getpid(), rows)
        except Exception as exc:
            log.warning("group membership of %s not recorded: %s", name, exc)

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


def describe(storage: "LocalStorage", name: str, lag: dict[Partition, int]) -> GroupView:
    """A group as its members last recorded it; a member whose process is gone is reported dead."""
    members: list[GroupMember] = []
    states: set[str] = set()
    for member, host, pid, state, parts in storage.members(name):
        alive = host != HOST or _running(pid)  # another host's process cannot be checked from here
        members.append(GroupMember(member, f"pid {pid}", host, tuple(parts), alive))
        if alive:
            states.add(state)
    state = EMPTY if not states else (REBALANCING if REBALANCING in states else STABLE)
    return GroupView(name, state, tuple(members), lag)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead(storage: "LocalStorage", names: Sequence[str]) -> None:
    """Drop the recorded members of this host's dead processes (on joining)."""
    dead = {pid for name in names for _m, host, pid, _s, _p in storage.members(name) if host == HOST and not _running(pid)}
    if dead:
        storage.forget_members(HOST, sorted(dead))
