"""The agent-connection Lease: how a parent cell tells everyone whether a child's agent is connected.

Not a Lattice kind but a ``coordination.k8s.io/v1`` Lease with an agreed shape, written by one
side and read by several, so its names and its reading live here beside the models:

* written by the parent's cell (``lattice_cell.agent_leases``): ``lattice-system/lattice-agent-<child>``,
  created on the agent's first connect, ``spec.renewTime`` moved on its heartbeats, annotations for
  connected, agent version, Kubernetes version, protocol version and state;
* and ``lattice-system/lattice-cell``, the cell's own Lease: which cluster this is (``holderIdentity``),
  renewed while the cell runs;
* read by the LatticeCluster hook (a related object: "agent connected"), ``lattice get`` and the
  proxy's discovery.

A reader trusts "connected" only while the Lease is fresh (``renewTime + leaseDurationSeconds`` in
the future): a cell that died never wrote "disconnected". Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from crds._base import KubeObject

API_VERSION = "coordination.k8s.io/v1"
NAMESPACE = "lattice-system"
NAME_PREFIX = "lattice-agent-"
CELL_LEASE_NAME = "lattice-cell"

COMPONENT_LABEL = "app.kubernetes.io/component"
AGENT_COMPONENT = "agent-lease"
CELL_COMPONENT = "cell-lease"
CLUSTER_LABEL = "lattice.dev/cluster"
AGENT_SELECTOR = f"{COMPONENT_LABEL}={AGENT_COMPONENT}"

CONNECTED = "lattice.dev/agent-connected"
AGENT_VERSION = "lattice.dev/agent-version"
KUBERNETES_VERSION = "lattice.dev/kubernetes-version"
PROTOCOL_VERSION = "lattice.dev/protocol-version"
AGENT_STATE = "lattice.dev/agent-state"
DISCONNECTED_AT = "lattice.dev/disconnected-at"
CELL_VERSION = "lattice.dev/cell-version"

_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def lease_name(cluster: str) -> str:
    return NAME_PREFIX + cluster


def micro_time(epoch: float) -> str:
    """Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime(_MICRO)


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of a Kubernetes Time or MicroTime; None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _labels(component: str, cluster: str) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "lattice", COMPONENT_LABEL: component, CLUSTER_LABEL: cluster}


@attrs.frozen
class AgentLease:
    """One child's agent as its parent's cell last recorded it."""

    cluster: str
    holder: str  # the parent cell's cluster, which holds the agent's stream
    connected: bool
    lease_duration_seconds: int
    renew_time: float | None = None  # last heartbeat (or connect)
    acquire_time: float | None = None  # the current (or last) stream's start
    transitions: int = 0  # streams after the first one
    agent_version: str = ""
    kubernetes_version: str = ""
    protocol_version: int = 0
    state: str = ""
    disconnected_at: float | None = None

    def fresh(self, now: float) -> bool:
        """Renewed within its duration (a cell that stopped leaves stale Leases behind)."""
        return self.renew_time is not None and now <= self.renew_time + self.lease_duration_seconds

    def connected_at(self, now: float) -> bool:
        """What a reader should believe: the cell said connected, and said it recently."""
        return self.connected and self.fresh(now)

    def annotations(self) -> dict[str, str]:
        out = {CONNECTED: "true" if self.connected else "false", AGENT_VERSION: self.agent_version,
               KUBERNETES_VERSION: self.kubernetes_version, PROTOCOL_VERSION: str(self.protocol_version),
               AGENT_STATE: self.state}
        if self.disconnected_at is not None and not self.connected:
            out[DISCONNECTED_AT] = micro_time(self.disconnected_at)
        return out

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"holderIdentity": self.holder, "leaseDurationSeconds": self.lease_duration_seconds,
                                "leaseTransitions": self.transitions}
        if self.acquire_time is not None:
            spec["acquireTime"] = micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = micro_time(self.renew_time)
        return spec

    def to_object(self, namespace: str = NAMESPACE) -> KubeObject:
        return {
            "apiVersion": API_VERSION, "kind": "Lease",
            "metadata": {"name": lease_name(self.cluster), "namespace": namespace,
                         "labels": _labels(AGENT_COMPONENT, self.cluster), "annotations": self.annotations()},
            "spec": self.spec(),
        }


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def from_object(obj: Mapping[str, Any]) -> AgentLease | None:
    """The agent Lease in ``obj``; None when it is not one (wrong name, or not labelled as one)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    labels = meta.get("labels") or {}
    if not name.startswith(NAME_PREFIX) or labels.get(COMPONENT_LABEL) != AGENT_COMPONENT:
        return None
    notes = meta.get("annotations") or {}
    spec = obj.get("spec") or {}
    return AgentLease(
        cluster=name.removeprefix(NAME_PREFIX),
        holder=str(spec.get("holderIdentity") or ""),
        connected=notes.get(CONNECTED) == "true",
        lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
        renew_time=parse_time(spec.get("renewTime")),
        acquire_time=parse_time(spec.get("acquireTime")),
        transitions=_int(spec.get("leaseTransitions")),
        agent_version=str(notes.get(AGENT_VERSION) or ""),
        kubernetes_version=str(notes.get(KUBERNETES_VERSION) or ""),
        protocol_version=_int(notes.get(PROTOCOL_VERSION)),
        state=str(notes.get(AGENT_STATE) or ""),
        disconnected_at=parse_time(notes.get(DISCONNECTED_AT)),
    )


@attrs.frozen
class CellLease:
    """A cell's own Lease: which cluster this API server belongs to, and that its cell is alive."""

    cluster: str
    lease_duration_seconds: int
    renew_time: float | None = None
    acquire_time: float | None = None
    version: str = ""

    def fresh(self, now: float) -> bool:
        return self.renew_time is not None and now <= self.renew_time + self.lease_duration_seconds

    def to_object(self, namespace: str = NAMESPACE) -> KubeObject:
        spec: dict[str, Any] = {"holderIdentity": self.cluster, "leaseDurationSeconds": self.lease_duration_seconds}
        if self.acquire_time is not None:
            spec["acquireTime"] = micro_time(self.acquire_time)
        if self.renew_time is not None:
            spec["renewTime"] = micro_time(self.renew_time)
        return {
            "apiVersion": API_VERSION, "kind": "Lease",
            "metadata": {"name": CELL_LEASE_NAME, "namespace": namespace,
                         "labels": _labels(CELL_COMPONENT, self.cluster), "annotations": {CELL_VERSION: self.version}},
            "spec": spec,
        }


def cell_from_object(obj: Mapping[str, Any]) -> CellLease | None:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    holder = spec.get("holderIdentity")
    if meta.get("name") != CELL_LEASE_NAME or not isinstance(holder, str) or not holder:
        return None
    return CellLease(
        cluster=holder, lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
        renew_time=parse_time(spec.get("renewTime")), acquire_time=parse_time(spec.get("acquireTime")),
        version=str((meta.get("annotations") or {}).get(CELL_VERSION) or ""),
    )
