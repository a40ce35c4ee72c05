"""The agent's part of self-management: the target of the pivot and the source of the unpivot,
plus the parent's distributable resources.

* ``MoveObjectBatch`` → import it (``lattice_move.Importer``), answer ``MoveObjectAck``;
  ``MoveComplete`` → create this cluster's own LatticeCluster, add the owner references that waited
  for it, resume Cluster API, apply the resources, answer ``MoveCompleteAck``. From then on the
  cluster is pivoted: its subtree entry says so, and its parent's CAPI proxy answers 410 for it.
* ``SyncResources`` → apply the set and delete what left it (``resources``).
* What the parent may make this agent write is one table, ``lattice_move.agent_rights``, which the
  agent's ClusterRole is generated from: an object of another kind (a ClusterRoleBinding, say), a
  Namespace other than ``capi-<cluster>`` or a batch into another namespace is refused with a
  message naming it — a failed object in ``MoveObjectAck``, an error in ``MoveCompleteAck`` — and
  nothing of it is written.
* Unpivot: while this cluster's own LatticeCluster is being deleted (and has no children — the hook
  refuses that deletion with their names), pause Cluster API here, send the graph in
  ``ClusterDeleting`` every few seconds until the parent answers ``UnpivotImported``, then delete
  the objects here with ``delete-for-move`` (the parent owns the infrastructure again and tears it
  down). Every step may be repeated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import crds
from lattice_agent.resources import apply_resources
from lattice_move.exporter import Exporter
from lattice_move.graph import MoveError, MoveGraph
from lattice_move.importer import LATTICE_CLUSTER, Importer
from lattice_move.kube import MoveApi
from lattice_move.wire import manifest_of, move_object
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_api import KubeApi

log = logging.getLogger(__name__)

Send = Callable[[pb.AgentMessage], None]


def capi_namespace(cluster: str) -> str:
    return f"capi-{cluster}"


class SelfManagement:
    def __init__(self, kube: KubeApi, cluster: str, *, unpivot_interval: float = 5.0) -> None:
        self.kube = kube
        self.cluster = cluster
        self.api = MoveApi(kube)
        self.importer = Importer(self.api)
        self.unpivot_interval = unpivot_interval
        self.pivoted = False
        self.on_pivoted: Callable[[], None] = lambda: None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unpivot_imported = asyncio.Event()
        self._unpivot_graph: MoveGraph | None = None
        self.unpivoted = False

    async def refresh(self) -> bool:
        """Whether this cluster manages itself (its move finished here)."""
        try:
            self.pivoted = await self.importer.released(self.cluster)
        except Exception as exc:  # the API server may be starting; asked again on the next connect
            log.warning("cannot tell whether %s is pivoted: %s", self.cluster, exc)
        return self.pivoted

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- commands from the parent ----
    def handle(self, cmd: pb.CellCommand, send: Send, origin: str) -> bool:
        """Serve a self-management command; False when ``cmd`` is none of them."""
        kind = cmd.WhichOneof("command")
        if kind == "move_batch":
            self._spawn(self._batch(cmd.command_id, cmd.move_batch, send))
        elif kind == "move_complete":
            self._spawn(self._complete(cmd.command_id, cmd.move_complete, send, origin))
        elif kind == "sync_resources":
            self._spawn(self._sync(cmd.sync_resources, origin))
        elif kind == "unpivot_imported":
            if cmd.unpivot_imported.success:
                self._unpivot_imported.set()
            else:
                log.warning("the parent could not import %s yet: %s", self.cluster, cmd.unpivot_imported.error)
        else:
            return False
        return True

    async def _batch(self, rid: int, batch: pb.MoveObjectBatch, send: Send) -> None:
        if batch.cluster_name != self.cluster:
            ack = pb.MoveObjectAck(errors=[pb.MoveObjectError(
                message=f"this agent is {self.cluster!r}, not {batch.cluster_name!r}")])
        elif batch.target_namespace != capi_namespace(self.cluster):
            ack = pb.MoveObjectAck(errors=[pb.MoveObjectError(
                message=f"a move into {self.cluster!r} goes to namespace {capi_namespace(self.cluster)!r}, "
                        f"not {batch.target_namespace!r}")])
        else:
            try:
                ack = await self.importer.apply_batch(batch)
            except Exception as exc:
                log.exception("batch %d of move %s failed", batch.batch_index, batch.move_id)
                ack = pb.MoveObjectAck(errors=[pb.MoveObjectError(message=str(exc), retryable=True)])
        ack.request_id = rid
        send(pb.AgentMessage(move_ack=ack))

    async def _complete(self, rid: int, msg: pb.MoveComplete, send: Send, origin: str) -> None:
        ack = pb.MoveCompleteAck(request_id=rid)
        try:
            if msg.cluster_name != self.cluster:
                raise MoveError(f"this agent is {self.cluster!r}, not {msg.cluster_name!r}")
            if msg.target_namespace != capi_namespace(self.cluster):
                raise MoveError(f"a move into {self.cluster!r} goes to namespace {capi_namespace(self.cluster)!r}, "
                                f"not {msg.target_namespace!r}")
            manifests = [manifest_of(pb.MoveObject(manifest=m)) for m in msg.manifests]

            async def resources() -> int:
                return await apply_resources(self.kube, origin, msg.resources)

            ack.resources_created = await self.importer.complete(msg.move_id, msg.target_namespace, self.cluster,
                                                                 manifests, resources, source=origin)
            ack.success = True
            self.pivoted = True
            self.on_pivoted()
            log.info("cluster %s manages itself: its Cluster API objects moved in from %s", self.cluster, origin)
        except Exception as exc:
            log.exception("completing move %s failed", msg.move_id)
            ack.error = str(exc)
        send(pb.AgentMessage(move_complete_ack=ack))

    async def _sync(self, msg: pb.SyncResources, origin: str) -> None:
        try:
            await apply_resources(self.kube, origin, msg.resources)
        except Exception as exc:
            log.warning("applying the resources %s hands down failed: %s", origin, exc)

    # ---- unpivot ----
    async def watch_deletion(self, send: Send) -> None:
        """Runs while connected: drives the unpivot once this cluster's LatticeCluster is deleted."""
        while True:
            try:
                await self._unpivot_round(send)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("unpivot of %s: %s", self.cluster, exc)
            await asyncio.sleep(self.unpivot_interval)

    async def _unpivot_round(self, send: Send) -> None:
        own = await self.api.get(LATTICE_CLUSTER, None, self.cluster)
        if own is None or not (own.get("metadata") or {}).get("deletionTimestamp") or self.unpivoted:
            return
        listing = await self.kube.request("GET", "latticeclusters", version=crds.API_VERSION)
        children = sorted(str(o["metadata"]["name"]) for o in (listing or {}).get("items") or []
                          if o["metadata"]["name"] != self.cluster)
        if children:
            log.info("unpivot of %s waits: child clusters exist: %s", self.cluster, ", ".join(children))
            return
        exporter = Exporter(self.api)
        ns = capi_namespace(self.cluster)
        if self._unpivot_imported.is_set():
            graph = self._unpivot_graph or await exporter.collect(ns, self.cluster, require_cluster=False)
            deleted = await exporter.delete_source(graph)
            log.info("unpivot of %s: the parent has the objects; %d deleted here with delete-for-move",
                     self.cluster, deleted)
            self.unpivoted = True
            return
        try:
            graph = await exporter.pause_and_collect(ns, self.cluster)
        except MoveError:
            self.unpivoted = True  # nothing (left) to hand back
            return
        self._unpivot_graph = graph
        send(pb.AgentMessage(cluster_deleting=pb.ClusterDeleting(
            cluster_name=self.cluster, namespace=ns, objects=[move_object(n) for n in graph.ordered()])))
        log.info("unpivot of %s: %d objects sent to the parent", self.cluster, len(graph.ordered()))
        try:
            await asyncio.wait_for(self._unpivot_imported.wait(), self.unpivot_interval)
        except TimeoutError:
            return
        await self._unpivot_round(send)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
