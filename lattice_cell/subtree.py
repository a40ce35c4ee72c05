"""Subtree registry: every cluster reachable below this cell, at any depth, and its next hop.

Each agent advertises its whole subtree (itself plus everything its own cell can reach), so a
route here is `cluster -> direct child agent`, however deep the cluster sits. Changes are
published to subscribers — the co-located agent forwards them upward as deltas — which is how
the root learns about clusters four levels down.

Which agent may route which name is `route_claims`' rule: a sibling can never capture another
child's route, connected or not, and nothing below can claim this cell or its ancestors.
Direct children are known from their connections and from `register_children` (the
registrations on this cluster, `child_registrations`); `release` forgets one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from lattice_cell.route_claims import REFUSED_TOTAL, Refusal, judge
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
        self.ancestors: tuple[str, ...] = ()  # root first; learned from the parent's Welcome
        self._registered: set[str] = set()  # direct children registered on this cluster
        self._proven: set[str] = set()  # direct children whose agent connected (certificate)
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

    @property
    def direct_children(self) -> set[str]:
        return self._registered | self._proven

    # ---- updates from agents ----
    def _judge(self, via: str, info: ClusterInfo, counts: Counter[str]) -> Refusal | None:
        current = self.routes.get(info.name)
        return judge(via, info.name, cell=self.self_name, ancestors=self.ancestors,
                     direct_children=self.direct_children, current_via=current.via if current else None,
                     routes_of_via=counts[via])

    def apply(self, via: str, clusters: Iterable[ClusterInfo], full: bool) -> list[tuple[str, Refusal]]:
        """Apply a full state or a delta from agent `via`; returns the claims it refused."""
        self._proven.add(via)  # only a connected agent, identified by its certificate, gets here
        changes: list[ClusterInfo] = []
        refused: list[tuple[str, Refusal]] = []
        seen: set[str] = set()
        counts = Counter(r.via for r in self.routes.values())
        for info in clusters:
            if info.removed:  # withdrawing: only what `via` itself routes, never its own name
                route = self.routes.get(info.name)
                if route is not None and route.via == via and info.name != via:
                    del self.routes[info.name]
                    counts[via] -= 1
                    changes.append(attrs.evolve(info, removed=True))
                continue
            reason = self._judge(via, info, counts)
            if reason is not None:
                refused.append((info.name, reason))
                continue
            seen.add(info.name)
            if info.name == via:  # the agent's own entry: its parent is us
                info = attrs.evolve(info, parent=self.self_name)
            previous = self.routes.get(info.name)
            if previous is not None and previous.via != via:  # rule 2: a child takes its own name back
                self._log_refused(previous.via, [(info.name, Refusal.DIRECT_CHILD)], evicted=True)
                counts[previous.via] -= 1
            if previous is None or previous.via != via:
                counts[via] += 1
            route = Route(info, via)
            self.routes[info.name] = route
            changes.append(self.effective(route))
        if full:
            for name in [n for n, r in self.routes.items() if r.via == via and n not in seen and n != via]:
                changes.append(attrs.evolve(self.routes.pop(name).info, removed=True))
        self._log_refused(via, refused)
        self._publish(changes)
        return refused

    def _log_refused(self, via: str, refused: Sequence[tuple[str, Refusal]], evicted: bool = False) -> None:
        if not refused:
            return
        for _, reason in refused:
            REFUSED_TOTAL.labels(reason.value).inc()
        shown = ", ".join(f"{name[:64]!r} ({reason})" for name, reason in refused[:10])
        more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
        verb = "lost the route it had claimed for" if evicted else "announced, refused:"
        log.warning("agent %s %s %s%s (route ownership, docs/tunnel.md)", via, verb, shown, more)

    def set_agent_connected(self, via: str, connected: bool) -> None:
        if connected:
            self._agents_up.add(via)
            self._proven.add(via)
            route = self.routes.get(via)
            if route is not None and route.via != via:  # someone else announced it: the certificate wins
                self._log_refused(route.via, [(via, Refusal.DIRECT_CHILD)], evicted=True)
                route = None
            if route is None:  # reachable even before it reports its subtree
                self.routes[via] = Route(ClusterInfo(via, self.self_name, phase="Unknown"), via)
        else:
            self._agents_up.discard(via)
        self._publish([self.effective(r) for r in self.routes.values() if r.via == via])

    # ---- what this cell knows besides its agents ----
    def set_ancestors(self, names: Sequence[str]) -> None:
        """The clusters above this cell (its agent learns them from the parent's Welcome):
        never routable from below. Routes already claiming one are dropped."""
        self.ancestors = tuple(names)
        self._evict({n for n in self.ancestors if n in self.routes}, Refusal.ANCESTOR)

    def register_children(self, names: Iterable[str]) -> None:
        """Direct children registered on this cluster: their names are theirs alone from now on,
        before their agent ever connects (and after a cell restart)."""
        fresh = {n for n in names if n != self.self_name} - self._registered
        self._registered |= fresh
        self._evict({n for n in fresh if n in self.routes and self.routes[n].via != n}, Refusal.DIRECT_CHILD)

    def release(self, name: str) -> None:
        """Forget direct child `name` (its LatticeCluster or registration was deleted): its own
        route and every route through it go, and the names are free to be announced again.
        A still-connected agent proves its name again with its next message."""
        self._registered.discard(name)
        self._proven.discard(name)
        gone = [n for n, r in self.routes.items() if r.via == name or n == name]
        changes = [attrs.evolve(self.routes.pop(n).info, removed=True) for n in gone]
        if gone:
            log.info("released cluster %s and %d route(s) through it", name, len(gone))
        self._publish(changes)

    def _evict(self, names: set[str], reason: Refusal) -> None:
        changes = []
        for name in sorted(names):
            route = self.routes.pop(name)
            self._log_refused(route.via, [(name, reason)], evicted=True)
            changes.append(attrs.evolve(route.info, removed=True))
        self._publish(changes)

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
