"""Observed Cluster API objects → the LatticeCluster's status.

Phases: ``Pending`` (waiting for something outside the spec: the CloudProvider) → ``Provisioning``
(objects created; infrastructure, control plane and workers coming up) → ``Pivoting`` (all up; the
agent connects, then the parent's pivot driver moves the Cluster API objects into the new cluster)
→ on the parent ``Pivoted`` (the objects live in the child now), on the cluster itself ``Ready``;
``Failed`` when the spec cannot be provisioned or Cluster API reports the Cluster failed;
``Deleting`` while it goes away. Without an agent (no pivot expected, e.g. the in-memory backend
in CI) a provisioned cluster is ``Ready`` directly. The pivot handshake is docs/cluster-lifecycle.md.

Conditions mirror Cluster API's: ``InfrastructureReady``, ``ControlPlaneInitialized``,
``ControlPlaneReady`` (ready/desired), ``WorkersReady`` (ready/desired), ``AgentConnected`` when an
agent is expected, plus ``Ready``. A condition keeps its ``lastTransitionTime`` while its status does
not change; new transitions get ``now`` (the shell's clock; left unset when None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crds import Condition, ConditionStatus, LatticeCluster
from crds.cluster import (
    ClusterPhase,
    CredentialCopy,
    LatticeClusterStatus,
    PivotPhase,
    PivotStatus,
    WorkerPoolSpec,
    WorkerPoolStatus,
)
from hooks.cluster import names
from hooks.cluster.compile import ClusterPlan, autoscaler_warning

Obj = dict[str, Any]
TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


@attrs.frozen
class ObservedCapi:
    """The Cluster API objects of one cluster as last read (None/empty: not there yet)."""

    cluster: Obj | None = None
    control_plane: Obj | None = None
    machine_deployments: Sequence[Obj] = ()


@attrs.frozen
class PivotProgress:
    """What the parent knows of the child: whether its agent is connected (the cell's Lease) and how
    far the pivot driver got (the ``lattice.dev/pivot-phase`` annotation)."""

    agent_connected: bool = False
    phase: PivotPhase | None = None

    @property
    def pivot_complete(self) -> bool:
        return self.phase is PivotPhase.COMPLETE


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _capi_condition(obj: Obj | None, type_: str) -> Obj | None:
    for c in _get(obj, "status", "conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == type_:
            return dict(c)
    return None


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


@attrs.frozen
class _Facts:
    infra_ready: bool
    infra_detail: str
    cp_initialized: bool
    cp_ready: int
    cp_desired: int
    workers_ready: int
    workers_desired: int
    pools: dict[str, WorkerPoolStatus]


def _infra(observed: ObservedCapi) -> tuple[bool, str]:
    c = observed.cluster
    cond = _capi_condition(c, "InfrastructureReady")
    ready = _get(c, "status", "initialization", "infrastructureProvisioned") is True or (
        cond is not None and cond.get("status") == "True")
    detail = str(cond.get("message") or "") if cond and not ready else ""
    return ready, detail


def _cp_initialized(observed: ObservedCapi) -> bool:
    c, cp = observed.cluster, observed.control_plane
    cond = _capi_condition(c, "ControlPlaneInitialized")
    return bool(
        _get(c, "status", "initialization", "controlPlaneInitialized") is True
        or (cond is not None and cond.get("status") == "True")
        or _get(cp, "status", "initialization", "controlPlaneInitialized") is True  # KubeadmControlPlane
        or _get(cp, "status", "initialized") is True  # RKE2ControlPlane (v1beta1)
    )


def _cp_ready(observed: ObservedCapi) -> int:
    from_cluster = _get(observed.cluster, "status", "controlPlane", "readyReplicas")
    if isinstance(from_cluster, int):
        return from_cluster
    return _int(_get(observed.control_plane, "status", "readyReplicas"))


def _pool_status(pool_id: str, pool: WorkerPoolSpec, md: Obj | None) -> WorkerPoolStatus:
    warning = autoscaler_warning(pool_id, pool)
    if pool.autoscaling:
        assert pool.min is not None
        desired = _get(md, "spec", "replicas")
        desired = desired if isinstance(desired, int) else pool.min
    else:
        desired = pool.replicas or 0
    message = warning
    if md is None and desired > 0:
        message = "; ".join(m for m in ("waiting for its MachineDeployment", warning) if m)
    return WorkerPoolStatus(
        desired_replicas=desired,
        current_replicas=_int(_get(md, "status", "replicas")),
        ready_replicas=_int(_get(md, "status", "readyReplicas")),
        autoscaling_enabled=pool.autoscaling,
        message=message,
    )


def _facts(cluster: LatticeCluster, observed: ObservedCapi) -> _Facts:
    infra_ready, infra_detail = _infra(observed)
    mds = {str(_get(md, "metadata", "name")): md for md in observed.machine_deployments}
    pools = {pool_id: _pool_status(pool_id, pool, mds.get(names.pool(cluster.name, pool_id)))
             for pool_id, pool in sorted(cluster.spec.nodes.worker_pools.items())}
    return _Facts(
        infra_ready=infra_ready, infra_detail=infra_detail, cp_initialized=_cp_initialized(observed),
        cp_ready=_cp_ready(observed), cp_desired=cluster.spec.nodes.control_plane,
        workers_ready=sum(min(p.ready_replicas, p.desired_replicas) for p in pools.values()),
        workers_desired=sum(p.desired_replicas for p in pools.values()),
        pools=pools,
    )


def _conditions(f: _Facts) -> list[tuple[str, ConditionStatus, str, str]]:
    cp = f"control plane {f.cp_ready}/{f.cp_desired} ready"
    workers = f"workers {f.workers_ready}/{f.workers_desired} ready"
    return [
        ("InfrastructureReady", TRUE if f.infra_ready else FALSE,
         "Provisioned" if f.infra_ready else "WaitingForInfrastructure",
         "infrastructure provisioned" if f.infra_ready else (f.infra_detail or "waiting for infrastructure")),
        ("ControlPlaneInitialized", TRUE if f.cp_initialized else FALSE,
         "Initialized" if f.cp_initialized else "WaitingForControlPlane",
         "control plane initialized" if f.cp_initialized else "waiting for the first control-plane node"),
        ("ControlPlaneReady", TRUE if f.cp_ready >= f.cp_desired else FALSE,
         "Ready" if f.cp_ready >= f.cp_desired else "ScalingUp", cp),
        ("WorkersReady", TRUE if f.workers_ready >= f.workers_desired else FALSE,
         "Ready" if f.workers_ready >= f.workers_desired else "ScalingUp", workers),
    ]


def _waiting_for(f: _Facts) -> str | None:
    if not f.infra_ready:
        return "waiting for infrastructure" + (f": {f.infra_detail}" if f.infra_detail else "")
    if not f.cp_initialized or f.cp_ready < f.cp_desired:
        return f"waiting for control plane {f.cp_ready}/{f.cp_desired}"
    if f.workers_ready < f.workers_desired:
        return f"waiting for workers {f.workers_ready}/{f.workers_desired}"
    return None


def _endpoint(observed: ObservedCapi) -> str | None:
    host = _get(observed.cluster, "spec", "controlPlaneEndpoint", "host")
    port = _get(observed.cluster, "spec", "controlPlaneEndpoint", "port")
    if isinstance(host, str) and host and isinstance(port, int):
        return f"https://{host}:{port}"
    return None


def _stamp(conds: list[tuple[str, ConditionStatus, str, str]], previous: LatticeClusterStatus | None,
           generation: int | None, now: str | None) -> list[Condition]:
    before = {c.type: c for c in (previous.conditions if previous else [])}
    out: list[Condition] = []
    for type_, status, reason, message in conds:
        old = before.get(type_)
        when = old.last_transition_time if old is not None and old.status is status else now
        out.append(Condition(type=type_, status=status, reason=reason, message=message,
                             last_transition_time=when, observed_generation=generation))
    return out


def credential_copies(plan: ClusterPlan) -> list[CredentialCopy]:
    return [CredentialCopy(source=c.source, target=c.target, literals=dict(c.literals), purpose=c.purpose or None)
            for c in plan.secret_copies]


DELETING_MESSAGE = "waiting for Cluster API to delete Cluster {namespace}/{name}"


def cluster_status(cluster: LatticeCluster, plan: ClusterPlan, observed: ObservedCapi, *,
                   pivot: PivotProgress | None = None, self_managed: bool = False,
                   previous: LatticeClusterStatus | None = None, now: str | None = None) -> LatticeClusterStatus:
    """The status to report. ``pivot`` None: no agent, so nothing to pivot (the parent keeps the
    Cluster API objects); ``self_managed``: this is the cluster's own LatticeCluster, in its own API
    server (its Cluster API objects were imported into it); ``previous``: the status last written
    (transition times, flags kept)."""
    generation = cluster.metadata.generation
    complete = pivot is not None and pivot.pivot_complete and not self_managed
    base = LatticeClusterStatus(
        provider=cluster.spec.provider.config.provider_type,
        observed_generation=generation,
        # The agent connecting is what proves its install worked (the cell's Lease says so).
        bootstrap_complete=bool((previous and previous.bootstrap_complete) or (pivot and pivot.agent_connected)),
        unpivot_import_complete=previous.unpivot_import_complete if previous else False,
        # On the cluster itself: its Cluster API objects live here (imported by the pivot).
        pivot_complete=complete or (self_managed and observed.cluster is not None),
        pivot=PivotStatus(phase=pivot.phase) if pivot is not None and pivot.phase is not None else None,
    )

    def phase_only(phase: ClusterPhase, reason: str, message: str, ready: ConditionStatus) -> LatticeClusterStatus:
        conds = _stamp([("Ready", ready, reason, message)], previous, generation, now)
        return attrs.evolve(base, phase=phase, message=message, conditions=conds)

    if plan.errors:
        return phase_only(ClusterPhase.FAILED, "ValidationFailed", "; ".join(str(e) for e in plan.errors), FALSE)
    if plan.waiting is not None:
        return phase_only(ClusterPhase.PENDING, "Waiting", plan.waiting, UNKNOWN)
    if cluster.metadata.deletion_timestamp:
        what = {"namespace": names.namespace(cluster.name), "name": cluster.name}
        message = DELETING_MESSAGE.format(**what) if observed.cluster else "deleted"
        return phase_only(ClusterPhase.DELETING, "Deleting", message, FALSE)
    if complete:
        return phase_only(ClusterPhase.PIVOTED, "Pivoted",
                          "the cluster manages itself: its Cluster API objects were moved into it", TRUE)
    # From here on the cell has work: the credentials copies, and the agent's token until the pivot.
    base = attrs.evolve(base, credential_copies=credential_copies(plan),
                        bootstrap_secret=None if self_managed or pivot is None else plan.bootstrap_secret)
    if _get(observed.cluster, "status", "phase") == "Failed":
        detail = _capi_condition(observed.cluster, "Available") or {}
        message = f"Cluster API reports the Cluster failed: {detail.get('message') or 'no detail'}"
        return phase_only(ClusterPhase.FAILED, "ClusterFailed", message, FALSE)
    moving = pivot is not None and pivot.phase is PivotPhase.STARTED and not self_managed
    if observed.cluster is None:
        if moving:
            return phase_only(ClusterPhase.PIVOTING, "Pivoting", "moving the Cluster API objects into the cluster",
                              FALSE)
        return phase_only(ClusterPhase.PROVISIONING, "Creating", "creating Cluster API objects", FALSE)

    f = _facts(cluster, observed)
    conds = _conditions(f)
    if pivot is not None and not self_managed:
        conds.append(("AgentConnected", TRUE if pivot.agent_connected else FALSE,
                      "Connected" if pivot.agent_connected else "WaitingForAgent",
                      "the cluster's agent is connected to this cell" if pivot.agent_connected
                      else "waiting for the cluster's agent to connect"))
    waiting = _waiting_for(f)
    if moving:
        phase, reason, message, ready = (ClusterPhase.PIVOTING, "Pivoting",
                                         "moving the Cluster API objects into the cluster", FALSE)
    elif waiting is not None:
        phase, reason, message, ready = ClusterPhase.PROVISIONING, "Provisioning", waiting, FALSE
    elif pivot is None or self_managed:
        phase, reason, ready = ClusterPhase.READY, "Ready", TRUE
        message = "cluster is self-managing" if self_managed else "cluster provisioned"
    else:
        phase, reason, ready = ClusterPhase.PIVOTING, "Pivoting", FALSE
        message = ("the agent is connected; waiting for the pivot to start" if pivot.agent_connected
                   else "waiting for the cluster's agent to connect")
    if plan.warnings:
        message = "; ".join([message, *plan.warnings])
    return attrs.evolve(
        base, phase=phase, message=message,
        conditions=_stamp([*conds, ("Ready", ready, reason, message)], previous, generation, now),
        ready_control_plane=f.cp_ready, ready_workers=f.workers_ready, worker_pools=f.pools,
        endpoint=_endpoint(observed),
    )
