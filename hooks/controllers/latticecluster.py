"""LatticeCluster: validation and status only.

No cluster provisioner (Cluster API manifests, pivot) exists in this version, so the sync hook
validates the spec and reports either ``Failed`` with every error or ``Pending`` ("awaiting
provisioning") with ``status.provider`` filled from ``spec.provider.config``. It has no children.
A status that something else has already moved past Pending is left as it is.
"""

from __future__ import annotations

import crds
from crds import Condition, ConditionStatus, KubeObject, LatticeCluster
from crds.cluster import ClusterPhase, LatticeClusterStatus
from hooks.controllers import kinds
from hooks.controllers.definition import INTERNAL_ERROR, Answer, Composite, HookConfig, failed_status_for
from hooks.controllers.events import EventPolicy
from hooks.controllers.parsing import parse_object
from hooks.wire import SyncRequest, SyncResponse

AWAITING = "awaiting provisioning"
_LATER_PHASES = frozenset(p.value for p in ClusterPhase) - {ClusterPhase.PENDING.value, ClusterPhase.FAILED.value}


failed_status = failed_status_for(LatticeClusterStatus, ClusterPhase.FAILED)


def pending_status(cluster: LatticeCluster) -> KubeObject:
    status = LatticeClusterStatus(
        phase=ClusterPhase.PENDING,
        message=AWAITING,
        provider=cluster.spec.provider.config.provider_type,
        conditions=[Condition(type="Ready", status=ConditionStatus.UNKNOWN, reason="AwaitingProvisioning",
                              message=AWAITING, observed_generation=cluster.metadata.generation)],
    )
    out: KubeObject = crds.dump(status)
    return out


def sync(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
    cluster, errors = parse_object(req.parent, LatticeCluster)
    if cluster is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    observed = req.parent.get("status")
    if isinstance(observed, dict) and observed.get("phase") in _LATER_PHASES:
        return Answer(SyncResponse(status=observed, children=[]))
    return Answer(SyncResponse(status=pending_status(cluster), children=[]))


CONTROLLER = Composite(
    name="latticecluster",
    parent=kinds.LATTICE_CLUSTER,
    children=(),
    sync=sync,
    failed_status=failed_status,
    resync_period_seconds=300,
    doc="Validates LatticeClusters and reports Pending (awaiting provisioning) or Failed; no children yet.",
    events=EventPolicy(failures=frozenset({"ValidationFailed", INTERNAL_ERROR}), first_success="Ready"),
)
