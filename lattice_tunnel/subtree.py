"""The clusters below a cell, as both sides of the tunnel speak of them.

A cell keeps every cluster reachable below it (``lattice_cell.subtree.SubtreeRegistry``); an agent
running next to a cell advertises that subtree upward. ``ClusterInfo`` is one such cluster and
``SubtreeSource`` what the agent reads it from (and tells it the clusters above); ``to_proto`` /
``from_proto`` are the wire form.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import attrs

from lattice_proto import agent_pb2 as pb


@attrs.frozen
class ClusterInfo:
    name: str
    parent: str = ""
    phase: str = "Ready"
    labels: dict[str, str] = attrs.field(factory=dict, hash=False)
    connected: bool = True
    pivoted: bool = False
    removed: bool = False  # only meaningful inside a delta


class SubtreeSource(Protocol):
    """A co-located cell's subtree: a snapshot, and deltas as they happen."""

    def snapshot(self) -> list[ClusterInfo]: ...

    def subscribe(self) -> asyncio.Queue[list[ClusterInfo]]: ...

    def unsubscribe(self, queue: asyncio.Queue[list[ClusterInfo]]) -> None: ...

    def set_ancestors(self, names: Sequence[str]) -> None:
        """The clusters above the cell (the agent's parent and its ancestors, root first): the
        cell never lets anything below claim them."""
        ...


def from_proto(c: pb.SubtreeCluster) -> ClusterInfo:
    return ClusterInfo(c.name, c.parent, c.phase or "Unknown", dict(c.labels), c.connected, c.pivoted, c.removed)


def to_proto(c: ClusterInfo) -> pb.SubtreeCluster:
    return pb.SubtreeCluster(name=c.name, parent=c.parent, phase=c.phase, labels=dict(c.labels),
                             connected=c.connected, pivoted=c.pivoted, removed=c.removed)
