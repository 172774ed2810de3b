"""Consumer groups as the Kafka group coordinator describes them, mapped to ``bus.groups``."""

from __future__ import annotations

from typing import Any

from newsflow.bus.groups import DEAD, EMPTY, REBALANCING, STABLE, UNKNOWN, GroupMember, GroupView
from newsflow.bus.types import Partition

_STATES = {
    "Stable": STABLE,
    "PreparingRebalance": REBALANCING,
    "CompletingRebalance": REBALANCING,
    "Empty": EMPTY,
    "Dead": DEAD,
}


def member_of(raw: dict[str, Any]) -> GroupMember:
    """One member of a DescribeGroups answer (kafka-python decodes its assignment to a dict)."""
    assignment = raw.get("member_assignment") or {}
    parts = tuple(
        sorted(
            Partition(a["topic"], p)
            for a in (assignment.get("assigned_partitions") or [] if isinstance(assignment, dict) else [])
            for p in a["partitions"]
        )
    )
    return GroupMember(
        member_id=raw.get("group_instance_id") or raw["member_id"],
        client_id=raw.get("client_id") or "",
        host=str(raw.get("client_host") or "").lstrip("/"),
        partitions=parts,
    )


def group_view(name: str, raw: dict[str, Any], lag: dict[Partition, int]) -> GroupView:
    state = _STATES.get(raw.get("group_state", ""), UNKNOWN)
    return GroupView(name, state, tuple(member_of(m) for m in raw.get("members") or []), lag)
