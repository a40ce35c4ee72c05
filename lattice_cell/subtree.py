"""Subtree registry: every cluster reachable below this cell, at any depth, and its next hop.

Each agent advertises its whole subtree (itself plus everything its own cell can reach), so a
route here is `cluster -> direct child agent`, however deep the cluster sits. Changes are
published to subscribers — the co-located agent forwards them upward as deltas — which is how
the root learns about clusters four levels down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import attrs

from lattice_tunnel.subtree import ClusterInfo

log = logging.getLogger(__name__)


@attrs.define
class Route:
    info: ClusterInfo
    via: str  # the direct child agent that leads to this cluster


class SubtreeRegistry:
    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self.routes: dict[str, Route] = {}
        self._agents_up: set[str] = set()
        self._subscribers: set[asyncio.Queue[list[ClusterInfo]]] = set()

    # ---- queries ----
    def lookup(self, name: str) -> Route | None:
        return self.routes.get(name)

    def reachable(self, route: Route) -> bool:
        return route.via in self._agents_up and route.info.connected

    def effective(self, route: Route) -> ClusterInfo:
        return attrs.evolve(route.info, connected=self.reachable(route), removed=False)

    def snapshot(self) -> list[ClusterInfo]:
        """All descendants (not this cell itself), with connectivity as seen from here."""
        return [self.effective(r) for _, r in sorted(self.routes.items())]

    # ---- updates from agents ----
    def _acceptable(self, via: str, info: ClusterInfo) -> bool:
        if info.name == self.self_name:
            log.warning("agent %s advertised this cell's own cluster %r; ignored", via, info.name)
            return False
        current = self.routes.get(info.name)
        if current is not None and current.via != via and current.via in self._agents_up:
            log.warning("agent %s advertised %r, already routed via connected agent %s; ignored",
                        via, info.name, current.via)
            return False
        return True

    def apply(self, via: str, clusters: Iterable[ClusterInfo], full: bool) -> list[str]:
        """Apply a full state or a delta from agent `via`; returns the names it rejected."""
        changes: list[ClusterInfo] = []
        rejected: list[str] = []
        seen: set[str] = set()
        for info in clusters:
            if not self._acceptable(via, info):
                rejected.append(info.name)
                continue
            seen.add(info.name)
            if info.removed:
                route = self.routes.get(info.name)
                if route is not None and route.via == via:
                    del self.routes[info.name]
                    changes.append(attrs.evolve(info, removed=True))
                continue
            if info.name == via:  # the agent's own entry: its parent is us
                info = attrs.evolve(info, parent=self.self_name)
            route = Route(info, via)
            self.routes[info.name] = route
            changes.append(self.effective(route))
        if full:
            for name in [n for n, r in self.routes.items() if r.via == via and n not in seen]:
                changes.append(attrs.evolve(self.routes.pop(name).info, removed=True))
        self._publish(changes)
        return rejected

    def set_agent_connected(self, via: str, connected: bool) -> None:
        if connected:
            self._agents_up.add(via)
            if via not in self.routes:  # reachable even before it reports its subtree
                self.routes[via] = Route(ClusterInfo(via, self.self_name, phase="Unknown"), via)
        else:
            self._agents_up.discard(via)
        self._publish([self.effective(r) for r in self.routes.values() if r.via == via])

    def set_pivoted(self, name: str, pivoted: bool = True) -> None:
        route = self.routes.get(name)
        if route is not None and route.info.pivoted != pivoted:
            route.info = attrs.evolve(route.info, pivoted=pivoted)
            self._publish([self.effective(route)])

    # ---- subscriptions (the co-located agent reports these upward) ----
    def subscribe(self) -> asyncio.Queue[list[ClusterInfo]]:
        queue: asyncio.Queue[list[ClusterInfo]] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[list[ClusterInfo]]) -> None:
        self._subscribers.discard(queue)

    def _publish(self, changes: list[ClusterInfo]) -> None:
        if changes:
            for queue in self._subscribers:
                queue.put_nowait(changes)
