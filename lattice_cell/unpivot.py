"""The unpivot, parent side: a child whose own LatticeCluster is being deleted hands its Cluster
API objects back (``ClusterDeleting``); import them here, resume Cluster API on them, tell the
child (``UnpivotImported``), and delete this cluster's LatticeCluster, whose controller then tears
the infrastructure down.

The handshake with the LatticeCluster hook is the pivot's: ``lattice.dev/pivot-phase=Started``
(acknowledged in status) while objects arrive, so Metacontroller neither deletes the half-imported
set nor applies anything to it; then the driver's marks go and the hook manages the objects again
(``lattice.dev/unpivot-phase``: ``Importing``, then ``Imported``; the pivot driver leaves a
cluster with this mark alone). The cell may write Secrets, ConfigMaps and Cluster API objects in
``capi-<cluster>`` only through the RoleBinding the LatticeCluster controller adds once it sees the
imported namespace (``hooks.cluster.cell_access``), so after the namespace the receiver waits for
those rights (SelfSubjectAccessReviews) before importing the rest. The child repeats its message
until it hears back; each step here may be repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import crds
from crds import KubeObject
from lattice_cell.registry import AgentRegistry
from lattice_move import names
from lattice_move.exporter import Exporter
from lattice_move.importer import Importer
from lattice_move.kube import MoveApi
from lattice_move.wire import manifest_of
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_request import AgentUnavailable

log = logging.getLogger(__name__)
# What an unpivot writes in capi-<cluster> through the RoleBinding the LatticeCluster controller adds
# there (lattice_cell.rbac): (API group, resource).
MOVED_KINDS = (("", "secrets"), ("", "configmaps"), (names.CAPI_GROUP_SUFFIX, "clusters"))


def is_namespace(obj: pb.MoveObject) -> bool:
    try:
        manifest = manifest_of(obj)
    except ValueError:
        return False  # the importer names what is wrong with it
    return manifest.get("kind") == "Namespace" and manifest.get("apiVersion") == "v1"


def creation_order(objects: list[pb.MoveObject]) -> list[list[pb.MoveObject]]:
    """Groups such that the namespace comes first and every object after its owners among
    ``objects`` (the child sends them in this order already; this keeps it when batching)."""
    present = {o.source_uid for o in objects}
    namespaces = [o for o in objects if is_namespace(o)]
    placed: set[str] = {o.source_uid for o in namespaces}
    remaining = [o for o in objects if o.source_uid not in placed]
    groups = [namespaces] if namespaces else []
    while remaining:
        group = [o for o in remaining if all(r.source_uid in placed or r.source_uid not in present for r in o.owners)]
        if not group:
            group = remaining  # a cycle: let the importer report what it cannot resolve
        placed.update(o.source_uid for o in group)
        taken = {id(o) for o in group}
        remaining = [o for o in remaining if id(o) not in taken]
        groups.append(group)
    return groups


class UnpivotReceiver:
    def __init__(self, kube: KubeApi, agents: AgentRegistry, *, ack_wait: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.api = MoveApi(kube)
        self.agents = agents
        self.ack_wait = ack_wait
        self.clock = clock
        self._busy: set[str] = set()

    async def _get(self, name: str) -> KubeObject | None:
        return await self.kube.request("GET", f"latticeclusters/{name}", version=crds.API_VERSION, allow=(404,))

    async def _annotate(self, name: str, values: dict[str, str | None]) -> None:
        await self.kube.request("PATCH", f"latticeclusters/{name}", version=crds.API_VERSION,
                                body={"metadata": {"annotations": values}},
                                content_type="application/merge-patch+json", allow=(404,))

    def _reply(self, cluster: str, success: bool, error: str = "") -> None:
        session = self.agents.session(cluster)
        if session is None:
            return
        with contextlib.suppress(AgentUnavailable):
            session.send(pb.CellCommand(unpivot_imported=pb.UnpivotImported(cluster_name=cluster, success=success,
                                                                           error=error)))

    async def __call__(self, cluster: str, msg: pb.ClusterDeleting) -> None:
        if cluster in self._busy:
            return  # the child repeats itself while we work
        self._busy.add(cluster)
        try:
            await self._receive(cluster, msg)
        except Exception as exc:
            log.warning("unpivot of %s: %s", cluster, exc)
            self._reply(cluster, False, str(exc))
        finally:
            self._busy.discard(cluster)

    async def _receive(self, cluster: str, msg: pb.ClusterDeleting) -> None:
        lc = await self._get(cluster)
        annotations = ((lc or {}).get("metadata") or {}).get("annotations") or {}
        if lc is None or annotations.get(names.UNPIVOT_PHASE) == "Imported":
            self._reply(cluster, True)  # done before (or nothing here to hand back to)
            await self._delete(cluster)
            return
        if not msg.objects:
            raise ValueError("the child sent no objects")
        await self._hold(cluster, lc)
        ns = msg.namespace or f"capi-{cluster}"
        importer = Importer(self.api)
        move_id = f"unpivot-{cluster}"
        granted = False
        for group in creation_order(list(msg.objects)):
            if not granted and not any(is_namespace(o) for o in group):
                await self._await_rights(ns)
                granted = True
            batch = pb.MoveObjectBatch(move_id=move_id, objects=group, target_namespace=ns)
            ack = await importer.apply_batch(batch)
            if ack.errors:
                raise RuntimeError(f"{len(ack.errors)} objects not imported, e.g. {ack.errors[0].message}")
        await Exporter(self.api).set_paused(ns, cluster, False)
        await self._annotate(cluster, {names.UNPIVOT_PHASE: "Imported", names.PIVOT_PHASE: None,
                                       names.PIVOT_IMPORTED: None, names.PIVOT_MESSAGE: None})
        log.info("unpivot of %s: %d objects back here; deleting the cluster", cluster, len(msg.objects))
        self._reply(cluster, True)
        await self._delete(cluster)

    async def _hold(self, cluster: str, lc: KubeObject) -> None:
        """``unpivot-phase=Importing`` (the pivot driver keeps away), ``pivot-phase=Started``, and
        wait for the hook to acknowledge it."""
        await self._annotate(cluster, {names.UNPIVOT_PHASE: "Importing"})
        await self._annotate(cluster, {names.PIVOT_PHASE: "Started"})
        deadline = self.clock() + self.ack_wait
        while True:
            current = await self._get(cluster) or lc
            if ((current.get("status") or {}).get("pivot") or {}).get("phase") == "Started":
                return
            if self.clock() > deadline:
                raise TimeoutError("the LatticeCluster hook did not acknowledge pivot-phase=Started in time")
            await asyncio.sleep(0.5)

    async def may_write(self, namespace: str) -> str | None:
        """None when this cell may create each kind an unpivot brings into ``namespace``, else the
        first it may not (one RoleBinding grants them all; each is asked, so none is assumed)."""
        for group, resource in MOVED_KINDS:
            review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                      "spec": {"resourceAttributes": {"namespace": namespace, "verb": "create", "group": group,
                                                      "resource": resource}}}
            answer = await self.kube.request("POST", "selfsubjectaccessreviews",
                                             version="authorization.k8s.io/v1", body=review)
            if not ((answer or {}).get("status") or {}).get("allowed"):
                return f"{resource}.{group}" if group else resource
        return None

    async def _await_rights(self, namespace: str) -> None:
        deadline = self.clock() + self.ack_wait
        while (missing := await self.may_write(namespace)) is not None:
            if self.clock() > deadline:
                raise TimeoutError(f"the LatticeCluster controller did not grant this cell its writes in {namespace} "
                                   f"in time (RoleBinding lattice-cell-secrets; still no create of {missing})")
            await asyncio.sleep(0.5)

    async def _delete(self, cluster: str) -> None:
        await self.kube.request("DELETE", f"latticeclusters/{cluster}", version=crds.API_VERSION, allow=(404,))
