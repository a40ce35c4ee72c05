"""What a LatticeCluster sync reads besides its spec: its observed Cluster API children, its
CloudProvider, the cell's agent Lease, the pivot annotation and, on a cluster's own LatticeCluster,
the other LatticeClusters (its children in the hierarchy).

Pure readers of the Metacontroller request maps; the decisions are in ``latticecluster``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

import crds
from crds import CloudProvider, KubeObject, LatticeCluster
from crds.agent_lease import parse_time as _epoch
from crds.cloud_provider import CloudProviderStatus
from crds.cluster import PIVOT_PHASE_ANNOTATION, PivotPhase
from hooks import wire
from hooks.cluster import ObservedCapi
from hooks.cluster.validate import PROVIDER_NAMESPACE
from hooks.controllers import kinds
from hooks.controllers.definition import Kind
from hooks.controllers.parsing import parse_object
from hooks.wire import ObjectMap

# The agent Lease the parent's cell keeps for each child (docs/cluster-lifecycle.md).
LEASE_PREFIX = "lattice-agent-"
LEASE_CONNECTED = "lattice.dev/agent-connected"
# Cluster API's marker on objects a move deletes on the source (clusterctl's convention).
DELETE_FOR_MOVE = "clusterctl.cluster.x-k8s.io/delete-for-move"

CONTROL_PLANES = (kinds.KUBEADM_CONTROL_PLANE, kinds.RKE2_CONTROL_PLANE)
INFRA_CLUSTERS = (kinds.DEV_CLUSTER, kinds.AWS_CLUSTER, kinds.OPENSTACK_CLUSTER, kinds.PROXMOX_CLUSTER)
# Deleting one of these (without a move) tears down machines or infrastructure.
LIVE_KINDS = (kinds.CAPI_CLUSTER, kinds.MACHINE_DEPLOYMENT, *CONTROL_PLANES, *INFRA_CLUSTERS)
MACHINE_TEMPLATES = (kinds.DEV_MACHINE_TEMPLATE, kinds.AWS_MACHINE_TEMPLATE, kinds.OPENSTACK_MACHINE_TEMPLATE,
                     kinds.PROXMOX_MACHINE_TEMPLATE)
CONFIG_TEMPLATES = (kinds.KUBEADM_CONFIG_TEMPLATE, kinds.RKE2_CONFIG_TEMPLATE)


def lease_name(cluster: str) -> str:
    return LEASE_PREFIX + cluster


def of_kinds(objects: ObjectMap, wanted: Iterable[Kind]) -> Iterator[KubeObject]:
    for kind in wanted:
        yield from wire.iter_objects(objects, kind.group_key)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def observed_capi(children: ObjectMap) -> ObservedCapi:
    clusters = list(of_kinds(children, (kinds.CAPI_CLUSTER,)))
    planes = list(of_kinds(children, CONTROL_PLANES))
    return ObservedCapi(cluster=clusters[0] if clusters else None, control_plane=planes[0] if planes else None,
                        machine_deployments=list(of_kinds(children, (kinds.MACHINE_DEPLOYMENT,))))


def has_child(children: ObjectMap, kind: Kind, namespace: str, name: str) -> bool:
    return f"{namespace}/{name}" in (children.get(kind.group_key) or {})


def namespace_active(children: ObjectMap, related: ObjectMap, name: str) -> bool:
    """Namespace ``name`` exists (as a child or a related object) and is not being deleted."""
    for objects in (children, related):
        for found in wire.iter_objects(objects, kinds.NAMESPACE.group_key):
            if _get(found, "metadata", "name") == name:
                return not _get(found, "metadata", "deletionTimestamp")
    return False


def moving_out(obj: KubeObject) -> bool:
    """Marked by a move for deletion on this side (the driver pauses, moves, marks, deletes)."""
    return DELETE_FOR_MOVE in (_get(obj, "metadata", "annotations") or {})


def live_objects(children: ObjectMap) -> list[str]:
    """``Kind/name`` of every observed object whose deletion would tear something down (objects a
    move has already marked for deletion do not count: they are on their way out)."""
    out = []
    for obj in of_kinds(children, LIVE_KINDS):
        if not moving_out(obj) and not _get(obj, "metadata", "deletionTimestamp"):
            out.append(f"{obj.get('kind')}/{_get(obj, 'metadata', 'name')}")
    return out


def referenced_templates(children: ObjectMap) -> set[tuple[str, str]]:
    """(kind, name) of the machine and bootstrap templates the observed control plane and
    MachineDeployments still point at (kept until they point elsewhere, so a rollout never finds
    its template gone)."""
    refs: list[Any] = []
    for md in of_kinds(children, (kinds.MACHINE_DEPLOYMENT,)):
        refs += [_get(md, "spec", "template", "spec", "infrastructureRef"),
                 _get(md, "spec", "template", "spec", "bootstrap", "configRef")]
    for cp in of_kinds(children, CONTROL_PLANES):
        refs += [_get(cp, "spec", "machineTemplate", "spec", "infrastructureRef"),  # KubeadmControlPlane v1beta2
                 _get(cp, "spec", "machineTemplate", "infrastructureRef")]  # RKE2ControlPlane v1beta1
    return {(str(r.get("kind")), str(r.get("name"))) for r in refs if isinstance(r, dict) and r.get("name")}


def kept_templates(children: ObjectMap, desired: list[KubeObject]) -> list[KubeObject]:
    """Observed templates no longer desired but still referenced, unchanged."""
    wanted = referenced_templates(children)
    have = {(str(o.get("kind")), str(_get(o, "metadata", "name"))) for o in desired}
    return [wire.keep_as_is(o) for o in of_kinds(children, (*MACHINE_TEMPLATES, *CONFIG_TEMPLATES))
            if (str(o.get("kind")), str(_get(o, "metadata", "name"))) in wanted - have]


def cloud_provider(related: ObjectMap, name: str) -> tuple[CloudProvider | None, KubeObject | None]:
    """The CloudProvider ``lattice-system/<name>`` with its status (a broken one counts as absent)."""
    raw = (related.get(kinds.CLOUD_PROVIDER.group_key) or {}).get(f"{PROVIDER_NAMESPACE}/{name}")
    if raw is None:
        return None, None
    provider, errors = parse_object(raw, CloudProvider)
    if provider is None or errors:
        return None, raw
    status, status_errors = crds.parse_as(CloudProviderStatus, raw.get("status") or {})
    if status is not None and not status_errors and raw.get("status"):
        provider = attrs.evolve(provider, status=status)
    return provider, raw


def agent_connected(related: ObjectMap, cluster: str, now: float) -> tuple[bool, float | None]:
    """Whether the cell's Lease says the agent is connected and was renewed within its duration,
    and how many seconds until it goes stale (None: no fresh Lease)."""
    lease = (related.get(kinds.LEASE.group_key) or {}).get(f"{PROVIDER_NAMESPACE}/{lease_name(cluster)}")
    if lease is None or (_get(lease, "metadata", "annotations") or {}).get(LEASE_CONNECTED) != "true":
        return False, None
    renewed = _epoch(_get(lease, "spec", "renewTime"))
    duration = _get(lease, "spec", "leaseDurationSeconds")
    if renewed is None or not isinstance(duration, int):
        return False, None
    left = renewed + duration - now
    return (True, left) if left >= 0 else (False, None)


@attrs.frozen
class PivotAnnotation:
    phase: PivotPhase | None
    unknown: str | None = None  # a value that is neither Started nor Complete


def pivot_annotation(parent: KubeObject) -> PivotAnnotation:
    value = (_get(parent, "metadata", "annotations") or {}).get(PIVOT_PHASE_ANNOTATION)
    if value is None or value == "":
        return PivotAnnotation(None)
    try:
        return PivotAnnotation(PivotPhase(value))
    except ValueError:
        return PivotAnnotation(None, unknown=str(value))


def other_clusters(related: ObjectMap, own: str) -> list[str]:
    """Names of the LatticeClusters in this API server besides ``own`` (the cluster's children)."""
    return sorted(str(_get(o, "metadata", "name")) for o in wire.iter_objects(related, kinds.LATTICE_CLUSTER.group_key)
                  if _get(o, "metadata", "name") != own)


def valid_cluster(raw: KubeObject) -> LatticeCluster | None:
    cluster, errors = parse_object(raw, LatticeCluster)
    return cluster if cluster is not None and not errors else None


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
