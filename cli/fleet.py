"""The fleet as one picture, from what each context showed (``cli.fleet_read.ContextView``). Pure.

Which cluster a context *is*: the cell's own Lease names it (``lattice-system/lattice-cell``);
without one (a leaf runs no cell), the only LatticeCluster there, or the one with a
``parentConfig`` among several that the context holds no agent Lease for. Every other
LatticeCluster and every agent Lease in that context is a child of it.

For each cluster the record read from its own API server wins (after the pivot a cluster manages
itself); the parent's copy is used when the cluster's own context was not read. The agent's
connection comes from the Lease in the parent's context, believed only while fresh. Roots are the
clusters no context names as a child; depth counts from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from cli.fleet_read import ContextView
from crds import KubeObject
from crds import agent_lease as al

Obj = Mapping[str, Any]


class Connection:
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"
    UNKNOWN = "Unknown"  # the Lease says connected, but its cell stopped renewing it
    NONE = "-"  # no agent Lease: a root, or a cluster registered without an agent


@attrs.frozen
class Agent:
    connection: str
    last_heartbeat: float | None
    agent_version: str
    kubernetes_version: str
    protocol_version: int
    state: str
    cell: str
    connected_since: float | None
    disconnected_at: float | None


@attrs.frozen
class Cluster:
    name: str
    phase: str
    message: str
    provider: str
    kubernetes_version: str
    control_plane_ready: int | None
    control_plane_total: int | None
    workers_ready: int | None
    workers_total: int | None
    can_provision: bool  # spec.parentConfig: it runs a cell children connect to
    created: float | None
    endpoint: str
    pivot_complete: bool
    bootstrap_complete: bool
    conditions: tuple[Obj, ...]
    worker_pools: tuple[tuple[str, Obj], ...]
    context: str  # where its record was read
    source: str  # "self": its own API server; "parent": the parent's copy; "lease": only an agent Lease
    parent: str | None = None
    children: tuple[str, ...] = ()
    depth: int = 0
    agent: Agent | None = None

    @property
    def role(self) -> str:
        return "parent" if self.can_provision or self.children else "leaf"


@attrs.frozen
class Fleet:
    clusters: dict[str, Cluster]
    roots: tuple[str, ...]
    warnings: tuple[str, ...]

    def ordered(self) -> list[Cluster]:
        """By depth, then name (a parent before its children)."""
        return sorted(self.clusters.values(), key=lambda c: (c.depth, c.name))


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _name(obj: Obj) -> str:
    return str(_get(obj, "metadata", "name") or "")


def _provider(obj: Obj) -> str:
    status = _get(obj, "status", "provider")
    if isinstance(status, str) and status:
        return status
    config = _get(obj, "spec", "provider", "config")
    if isinstance(config, Mapping):
        for key in ("aws", "docker", "openstack", "proxmox"):
            if key in config:
                return key
    return ""


def _pools(obj: Obj) -> tuple[tuple[str, Obj], ...]:
    status = _get(obj, "status", "workerPools")
    if isinstance(status, Mapping) and status:
        return tuple(sorted((str(k), v) for k, v in status.items() if isinstance(v, Mapping)))
    spec = _get(obj, "spec", "nodes", "workerPools")
    if isinstance(spec, Mapping):
        return tuple(sorted(
            (str(k), {"desiredReplicas": _int(v.get("replicas") if v.get("replicas") is not None else v.get("min")),
                      "autoscalingEnabled": v.get("min") is not None and v.get("max") is not None})
            for k, v in spec.items() if isinstance(v, Mapping)))
    return ()


def cluster_of(obj: Obj, context: str, source: str) -> Cluster:
    """The columns of one LatticeCluster object as read (any shape: status may be partial or absent)."""
    pools = _pools(obj)
    desired = [_int(p.get("desiredReplicas")) for _, p in pools]
    workers_total = sum(d or 0 for d in desired) if pools else None
    workers_ready = _int(_get(obj, "status", "readyWorkers"))
    if workers_ready is None and pools and any("readyReplicas" in p for _, p in pools):
        workers_ready = sum(_int(p.get("readyReplicas")) or 0 for _, p in pools)
    version = str(_get(obj, "spec", "provider", "kubernetes", "version") or "")
    return Cluster(
        name=_name(obj),
        phase=str(_get(obj, "status", "phase") or "Unknown"),
        message=str(_get(obj, "status", "message") or ""),
        provider=_provider(obj),
        kubernetes_version=version.removeprefix("v"),
        control_plane_ready=_int(_get(obj, "status", "readyControlPlane")),
        control_plane_total=_int(_get(obj, "spec", "nodes", "controlPlane")),
        workers_ready=workers_ready,
        workers_total=workers_total,
        can_provision=isinstance(_get(obj, "spec", "parentConfig"), Mapping),
        created=al.parse_time(_get(obj, "metadata", "creationTimestamp")),
        endpoint=str(_get(obj, "status", "endpoint") or ""),
        pivot_complete=_get(obj, "status", "pivotComplete") is True,
        bootstrap_complete=_get(obj, "status", "bootstrapComplete") is True,
        conditions=tuple(c for c in _get(obj, "status", "conditions") or [] if isinstance(c, Mapping)),
        worker_pools=pools,
        context=context,
        source=source,
    )


def _placeholder(name: str, context: str, source: str) -> Cluster:
    """A cluster known only from a Lease (no LatticeCluster object was seen)."""
    return Cluster(name=name, phase="Unknown", message="", provider="", kubernetes_version="",
                   control_plane_ready=None, control_plane_total=None, workers_ready=None, workers_total=None,
                   can_provision=False, created=None, endpoint="", pivot_complete=False, bootstrap_complete=False,
                   conditions=(), worker_pools=(), context=context, source=source)


def self_name(view: ContextView) -> str | None:
    """Which cluster this context's API server belongs to (None: cannot tell)."""
    if view.cell is not None:
        return view.cell.cluster
    held = {lease.cluster for lease in view.leases}
    names = [_name(c) for c in view.clusters if _name(c) not in held]
    if len(names) == 1 and not held:
        return names[0]
    parents = [_name(c) for c in view.clusters if isinstance(_get(c, "spec", "parentConfig"), Mapping)
               and _name(c) not in held]
    if len(parents) == 1:
        return parents[0]
    return None


def agent_of(lease: al.AgentLease, now: float) -> Agent:
    if not lease.connected:
        connection = Connection.DISCONNECTED
    elif lease.fresh(now):
        connection = Connection.CONNECTED
    else:
        connection = Connection.UNKNOWN
    return Agent(connection=connection, last_heartbeat=lease.renew_time, agent_version=lease.agent_version,
                 kubernetes_version=lease.kubernetes_version, protocol_version=lease.protocol_version,
                 state=lease.state, cell=lease.holder, connected_since=lease.acquire_time if lease.connected else None,
                 disconnected_at=lease.disconnected_at)


def assemble(views: Sequence[ContextView], now: float) -> Fleet:
    records: dict[str, Cluster] = {}  # the best record per name so far
    parents: dict[str, str] = {}
    agents: dict[str, Agent] = {}
    warnings: list[str] = []
    rank = {"self": 0, "parent": 1, "lease": 2, "context": 3}

    def offer(cluster: Cluster) -> None:
        have = records.get(cluster.name)
        if have is None or rank[cluster.source] < rank[have.source]:
            records[cluster.name] = cluster

    for view in views:
        if view.error is not None:
            continue
        me = self_name(view)
        by_name: dict[str, KubeObject] = {_name(c): dict(c) for c in view.clusters if _name(c)}
        if me is None:
            if by_name:
                warnings.append(f"context {view.context}: cannot tell which cluster it is (no lattice-cell Lease, "
                                f"{len(by_name)} LatticeClusters); their parent is not shown")
            for obj in by_name.values():
                offer(cluster_of(obj, view.context, "parent"))
            continue
        own = by_name.pop(me, None)
        offer(cluster_of(own, view.context, "self") if own is not None else _placeholder(me, view.context, "context"))
        for name, obj in by_name.items():
            offer(cluster_of(obj, view.context, "parent"))
            _set_parent(parents, name, me, view.context, warnings)
        for lease in view.leases:
            if lease.cluster == me:
                continue
            if lease.cluster not in by_name:
                offer(_placeholder(lease.cluster, view.context, "lease"))
            _set_parent(parents, lease.cluster, me, view.context, warnings)
            if lease.holder in ("", me) and lease.cluster not in agents:
                agents[lease.cluster] = agent_of(lease, now)

    parents = {c: p for c, p in parents.items() if c in records and p in records}
    roots = sorted(n for n in records if n not in parents)
    depth = _depths(roots, parents)
    while len(depth) < len(records):  # the rest sit on a loop of claims: cut it at its first name
        cut = min(n for n in records if n not in depth)
        warnings.append(f"{cut} and its parents name each other as children; showing {cut} at the top")
        parents.pop(cut)
        roots = sorted([*roots, cut])
        depth = _depths(roots, parents)
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    clusters = {
        name: attrs.evolve(rec, parent=parents.get(name),
                           children=tuple(sorted(children.get(name, []))), depth=depth[name], agent=agents.get(name))
        for name, rec in records.items()
    }
    return Fleet(clusters=clusters, roots=tuple(sorted(roots)), warnings=tuple(warnings))


def _depths(roots: list[str], parents: dict[str, str]) -> dict[str, int]:
    kids: dict[str, list[str]] = {}
    for child, parent in parents.items():
        kids.setdefault(parent, []).append(child)
    depth: dict[str, int] = {}
    stack = [(r, 0) for r in roots]
    while stack:
        name, d = stack.pop()
        if name not in depth:
            depth[name] = d
            stack += [(c, d + 1) for c in kids.get(name, [])]
    return depth


def _set_parent(parents: dict[str, str], child: str, parent: str, context: str, warnings: list[str]) -> None:
    have = parents.setdefault(child, parent)
    if have != parent:
        warnings.append(f"context {context}: {child} is also listed under {parent}; showing it under {have}")
